import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { API_VERSION, BundleRef, RelativePath, Sha256Hex, Timestamp, VerificationError, withContext, writeFileAtomic } from '@ag/core';
import type { Inventory } from './inventory.js';

/** One file a bundle lists in SHA256SUMS (carried or reused), with its size. */
export const LedgerMember = Type.Object({ path: RelativePath, sha256: Sha256Hex, size: Type.Integer({ minimum: 0 }) });
export type LedgerMember = Static<typeof LedgerMember>;

/**
 * One line of a site's ledger: a bundle packed for the site. `prev` chains
 * it to the line before (the sha256 of that line's bytes), so an edited or
 * removed line breaks the chain at the line after it.
 */
export const LedgerEntry = Type.Object({
  sequence: Type.Integer({ minimum: 1 }),
  site: Type.String(),
  id: Type.String(),
  /** The bundle's file name as packed. */
  bundle: Type.String(),
  /** sha256 of the bundle's SHA256SUMS: what the far side's unpacked tree holds. */
  sumsSha256: Sha256Hex,
  members: Type.Array(LedgerMember),
  builtOn: Type.Array(BundleRef),
  recordedAt: Timestamp,
  prev: Sha256Hex,
  /** sha256 of this line without this field: an edit to the line is named at the line itself. */
  sha256: Sha256Hex,
});
export type LedgerEntry = Static<typeof LedgerEntry>;

export const GENESIS = '0'.repeat(64);
export function bundleId(site: string, sequence: number): string {
  return `${site}#${sequence}`;
}

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The entry's own digest: of its JSON without `sha256`, keys in the order written. */
function entrySha256(entry: Omit<LedgerEntry, 'sha256'> & { sha256?: string }): string {
  const { sha256: _own, ...rest } = entry;
  return sha256(JSON.stringify(rest));
}

export interface Ledger {
  path: string;
  site: string;
  entries: LedgerEntry[];
  /** The bytes read, which the append must extend unchanged. */
  text: string;
}

/**
 * Reads a site's ledger and checks its chain: every line is an entry for
 * this site, numbered in order, whose `prev` is the sha256 of the line
 * before. A missing file is an empty ledger (the site's first bundle).
 * Refuses (exit 3) naming the first line that breaks: a ledger that lies
 * would make the next delta leave out what the site lacks.
 *
 * Each line also carries its own sha256, so an edited line is named itself.
 * Not detectable here: removing the last lines (nothing follows them). The
 * far side catches that one: the next bundle's id is one it already holds
 * with other contents, and unpack refuses it.
 */
export async function readLedger(path: string, site: string): Promise<Ledger> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path, site, entries: [], text: '' };
    throw withContext(`reading the ledger ${path}`, error);
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const entries: LedgerEntry[] = [];
  let prev = GENESIS;
  const broken = (line: number, what: string): never => {
    throw new VerificationError(`the ledger ${path} is broken at line ${line}: ${what}`, {
      hint: 'it was edited or a line was removed; restore it from a backup (a delta packed from a wrong ledger would leave out what the site lacks), or pack --full and start a new ledger',
      details: { ledger: path, line },
    });
  };
  lines.forEach((line, index) => {
    const number = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      broken(number, 'not JSON');
    }
    if (!Value.Check(LedgerEntry, value)) {
      const first = [...Value.Errors(LedgerEntry, value)][0];
      broken(number, `not a ledger entry (${first?.path || '$'}: ${first?.message ?? 'invalid'})`);
    }
    const entry = value as LedgerEntry;
    if (entrySha256(entry) !== entry.sha256) broken(number, 'its content does not match its sha256 (the line was edited)');
    if (entry.prev !== prev) broken(number, number === 1 ? 'it does not start the chain' : `it does not chain to line ${number - 1} (that line was changed, or one before this was removed)`);
    if (entry.sequence !== number) broken(number, `it is bundle ${entry.sequence}, expected ${number}`);
    if (entry.site !== site) broken(number, `it is for site ${entry.site}, not ${site}`);
    prev = sha256(line);
    entries.push(entry);
  });
  if (text !== '' && !text.endsWith('\n')) broken(lines.length, 'the last line is cut short');
  return { path, site, entries, text };
}

/** What the next bundle for the site is: its id, and (unless complete) the bundles it builds on. */
export interface SiteTrip {
  site: string;
  sequence: number;
  id: string;
  builtOn: BundleRef[];
  /** The last bundle sent, whose tree the far side holds: what a delta leaves out. */
  base: LedgerEntry | undefined;
}

export function nextTrip(ledger: Ledger, full: boolean): SiteTrip {
  const last = ledger.entries.at(-1);
  const sequence = (last?.sequence ?? 0) + 1;
  const base = full ? undefined : last;
  return {
    site: ledger.site,
    sequence,
    id: bundleId(ledger.site, sequence),
    builtOn: base === undefined ? [] : [...base.builtOn, { id: base.id, sumsSha256: base.sumsSha256 }],
    base,
  };
}

/** What the far side holds once the base arrived, in the shape delta selection reads. */
export function baseInventory(base: LedgerEntry): { inventory: Inventory; sha256: string; name: string } {
  return {
    inventory: { apiVersion: API_VERSION, kind: 'BundleInventory', createdAt: base.recordedAt, root: base.id, layouts: [], files: base.members },
    sha256: base.sumsSha256,
    name: base.id,
  };
}

/**
 * Appends the entry for a bundle now fully written: the whole ledger is
 * written anew under a temporary name and renamed (see writeFileAtomic), so
 * a crash leaves the old ledger or the new one. The file is read again
 * first: if it changed since pack read it (another pack for the same site),
 * refuse rather than fork the chain.
 */
export async function appendLedger(ledger: Ledger, entry: Omit<LedgerEntry, 'prev' | 'site' | 'sha256'>): Promise<LedgerEntry> {
  const now = await readFile(ledger.path, 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw withContext(`reading the ledger ${ledger.path}`, error);
  });
  if (now !== ledger.text) {
    throw new VerificationError(`the ledger ${ledger.path} changed while this bundle was packed (another pack for site ${ledger.site}?)`, {
      hint: 'the bundle is written but not recorded; pack again once the other pack finished',
    });
  }
  const lines = ledger.text.split('\n').filter((line) => line !== '');
  const unsealed: Omit<LedgerEntry, 'sha256'> = {
    sequence: entry.sequence,
    site: ledger.site,
    id: entry.id,
    bundle: entry.bundle,
    sumsSha256: entry.sumsSha256,
    builtOn: entry.builtOn,
    recordedAt: entry.recordedAt,
    prev: lines.length === 0 ? GENESIS : sha256(lines.at(-1)!),
    members: entry.members,
  };
  const ordered: LedgerEntry = { ...unsealed, sha256: entrySha256(unsealed) };
  await writeFileAtomic(ledger.path, `${ledger.text}${JSON.stringify(ordered)}\n`).catch((error: unknown) => {
    throw withContext(`recording the bundle in the ledger ${ledger.path}`, error);
  });
  return ordered;
}
