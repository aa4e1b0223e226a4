import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingError, UsageError, type BundleSite } from '@ag/core';
import { DOCUMENT_FILE, SUMS_FILE } from './sums.js';

/** The site bundle a far side's tree holds, and every bundle that one includes (id -> sha256 of its SHA256SUMS). */
export interface PresentBundles {
  site: BundleSite | undefined;
  sumsSha256: string;
  included: Map<string, string>;
}

/**
 * What an unpacked tree holds, from its own files: its SHA256SUMS (whose
 * sha256 identifies the bundle) and its bundle.json's `bundle.site`, whose
 * `builtOn` lists every earlier bundle the tree already includes. Undefined
 * when `dir` holds no unpacked bundle.
 */
export async function presentBundles(dir: string): Promise<PresentBundles | undefined> {
  const sums = await readFile(join(dir, SUMS_FILE)).catch(() => undefined);
  if (sums === undefined) return undefined;
  const sumsSha256 = createHash('sha256').update(sums).digest('hex');
  let site: BundleSite | undefined;
  try {
    site = (JSON.parse(await readFile(join(dir, DOCUMENT_FILE), 'utf8')) as { bundle?: { site?: BundleSite } }).bundle?.site;
  } catch {
    site = undefined;
  }
  const included = new Map<string, string>((site?.builtOn ?? []).map((ref) => [ref.id, ref.sumsSha256]));
  if (site !== undefined) included.set(site.id, sumsSha256);
  return { site, sumsSha256, included };
}

/** What to do with a site bundle, given what the tree holds. */
export type SiteDecision =
  /** The tree already includes it (a later bundle of the site, built on it, is there): nothing to do. */
  | { action: 'included'; by: string }
  /** Unpack it; `replaces` when it may replace the tree without --replace (a later complete bundle of the same site). */
  | { action: 'apply'; replaces: boolean };

/**
 * Decides, before anything is written, whether a bundle packed for a site
 * (`pack --site`) can be unpacked onto `dir`: every bundle it builds on must
 * be there — the tree holds the last of them, which includes the others —
 * or it fails (exit 5) naming each one absent. A bundle the tree already
 * includes changes nothing, so the bundles of a site, unpacked in any
 * order, end in the same tree: the newest.
 */
export function decideSite(label: string, dir: string, incoming: BundleSite, incomingSums: string, present: PresentBundles | undefined): SiteDecision {
  const included = present?.included ?? new Map<string, string>();
  const presentSite = present?.site;
  if (presentSite !== undefined && presentSite.id !== incoming.id && included.get(incoming.id) === incomingSums) {
    return { action: 'included', by: presentSite.id };
  }
  const missing = incoming.builtOn.filter((ref) => included.get(ref.id) !== ref.sumsSha256);
  const holds = present === undefined ? 'no bundle' : presentSite === undefined ? 'a bundle packed for no site' : `bundle ${presentSite.id}`;
  if (missing.length > 0) {
    throw new MissingError(
      `${label} is bundle ${incoming.id}, a delta that builds on ${missing.map((ref) => ref.id).join(', ')}, which ${dir} does not hold (it holds ${holds})`,
      {
        hint: `unpack ${missing.length === 1 ? 'that bundle' : 'those bundles, oldest first,'} onto ${dir} first, then this one; or have a complete bundle packed (pack --site ${incoming.name} --full); nothing was written`,
        details: { missing: missing.map((ref) => ref.id) },
      },
    );
  }
  const base = incoming.builtOn.at(-1);
  if (base !== undefined && presentSite?.id !== base.id) {
    throw new UsageError(`${label} is bundle ${incoming.id}, a delta of ${base.id}, but ${dir} holds ${holds}, which is newer and does not include ${incoming.id}`, {
      hint: `the connected side's ledger of site ${incoming.name} forked; have a complete bundle packed (pack --site ${incoming.name} --full)`,
    });
  }
  const replaces = presentSite !== undefined && presentSite.name === incoming.name && presentSite.sequence < incoming.sequence;
  return { action: 'apply', replaces };
}
