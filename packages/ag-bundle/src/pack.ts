import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import {
  API_VERSION,
  ensureRoom,
  noProgress,
  silentLogger,
  UsageError,
  VerificationError,
  withContext,
  writeFileAtomic,
  type AgDocument,
  type BundleSection,
  type Logger,
  type Progress,
} from '@ag/core';
import { readInventory } from './inventory.js';
import { appendLedger, baseInventory, nextTrip, readLedger, type LedgerEntry } from './ledger.js';
import { BundleWriter, type WrittenBundle } from './output.js';
import { contentsOf, layoutArchive, planPack, type PlannedFile } from './pack-plan.js';
import type { AbsentItem } from './planned.js';
import { partCount, partName, PARTS_SIGNATURE_SUFFIX, PARTS_SUFFIX, renderPartsList, type PartsList } from './parts.js';
import { loadSigningKey, signBytes, type SigningKey } from './signing.js';
import { DOCUMENT_FILE, SIGNATURE_FILE, SUMS_FILE } from './sums.js';
import { buildSbom, SBOM_FILE } from './sbom.js';
import { checkScanGate, scanTargets } from './scan-gate.js';
import { encodeHeader, padding } from './tar/header.js';
import { VERSION } from './version.js';
import { sweepStale } from './temp.js';
import { discoverTools, type ToolFile } from './tools.js';

export interface PackOptions {
  /** The bundle root to pack. */
  dir: string;
  /** The archive to write (`FILE.tar`; parts are `FILE.tar.000`…). */
  out: string;
  /** The pipeline document; its `bundle` section is replaced. */
  document: AgDocument;
  /** Split into parts of this many bytes. */
  split?: number;
  /** PEM private key to sign SHA256SUMS (and the parts list) with; required unless `unsigned`. */
  signKey?: string;
  /** Pack without a signature (the operator said so explicitly). */
  unsigned?: boolean;
  /** An inventory of the far side: carry only what it lacks. */
  have?: string;
  /**
   * Pack for a site with no way back (a data diode): carry only what the
   * site's ledger says it has not been sent (unless `full`), name the
   * bundles this one builds on, and record it in the ledger once written.
   */
  site?: { name: string; ledger: string; full?: boolean };
  /** Refuse unless every file and image was scanned clean (the document's `scan`), or its findings are in `accept`. */
  requireScan?: boolean;
  /** Findings to let cross, each with the reason (recorded in the bundle). */
  accept?: { id: string; reason: string }[];
  /** Where the ag tools to carry are; false to carry none; default: found from this build. */
  tools?: string | false;
  /** Decide and report, write nothing. */
  dryRun?: boolean;
  log?: Logger;
  progress?: Progress;
}

/** One thing a (dry) run does. */
export interface PackAction {
  action: 'write';
  path: string;
  bytes?: number;
}

export interface PackResult {
  /** The document with its `bundle` section (what pack emits). */
  document: AgDocument;
  /** What was (or, dry, would be) written. */
  actions: PackAction[];
  files: number;
  carriedFiles: number;
  reusedFiles: number;
  written: WrittenBundle | undefined;
  /** A dry run: what the document plans that the root lacks yet (a real pack refuses it, exit 5). */
  absent?: AbsentItem[];
  /** The ledger line recorded for `site` (not on a dry run). */
  ledgerEntry?: LedgerEntry;
}

const EMPTY_BLOCKS = Buffer.alloc(1024);
const ZEROS = Buffer.alloc(512);

/**
 * Packs a bundle root into one uncompressed tar (layers are compressed
 * already), or into media-sized parts with a signed parts list: SHA256SUMS
 * first, then its signature, then bundle.json (the document), then every
 * file, streamed from where it is without a second copy on disk. Each file
 * is hashed again as it streams, and a file whose bytes do not match what
 * SHA256SUMS says (its blob name, the document's sha256, or the first read)
 * aborts the pack. Output is written under temporary names and renamed only
 * when complete. The root is only read: the ag tools go into the archive
 * straight from the build (see planPack), and SHA256SUMS, its signature and
 * bundle.json exist only in the archive, so a pack, failed or not, leaves
 * its input exactly as it was.
 *
 * Signs unless told `unsigned` explicitly: a bundle for the far side proves
 * who made it, not only that it is intact.
 *
 * With `have`, files the far side's inventory lists are left out of the
 * archive but kept in SHA256SUMS and named in `bundle.delta.reused`; unpack
 * takes them from what the far side has.
 *
 * Deliberately not here: compression, and fetching anything missing (pack
 * refuses, writing nothing, an incomplete image layout or anything the
 * document plans that the root lacks).
 */
export async function packBundle(options: PackOptions): Promise<PackResult> {
  const log = options.log ?? silentLogger;
  const progress = options.progress ?? noProgress;
  const root = resolve(options.dir);
  const out = resolve(options.out);
  const rootInfo = await stat(root).catch((error: unknown) => {
    // A dry-run pipeline downloaded nothing: the root it names may not exist yet.
    if (options.dryRun && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw withContext(`packing ${root}`, error);
  });
  if (rootInfo !== undefined && !rootInfo.isDirectory()) throw new UsageError(`${root} is not a directory`, { hint: 'pass the bundle root with --dir' });
  const rel = relative(root, out);
  if (!rel.startsWith('..') && !rel.startsWith('/')) {
    throw new UsageError(`the output ${out} is inside the directory being packed`, { hint: 'write the bundle outside --dir' });
  }
  if (options.split !== undefined && options.split < 512) throw new UsageError('--split must be at least 512 bytes');

  const signer = await signerFor(options);
  const ledger = options.site === undefined ? undefined : await readLedger(options.site.ledger, options.site.name);
  const trip = ledger === undefined ? undefined : nextTrip(ledger, options.site?.full === true || options.have !== undefined);
  const inventory = options.have !== undefined ? await readInventory(options.have) : trip?.base === undefined ? undefined : baseInventory(trip.base);
  const tools: ToolFile[] = options.tools === false ? [] : await discoverTools(options.tools);
  if (options.tools !== false && tools.length === 0) {
    log.warn('no ag tools found to carry in tools/: the far side will need its own (run npm run build, or pass --tools DIR)');
  }

  const hashing = progress.task('hashing new files', 0);
  const plan = await planPack({
    root,
    document: options.document,
    tools,
    ...(inventory === undefined ? {} : { inventory }),
    hashAll: !options.dryRun,
    ...(options.dryRun ? { dryRun: true } : {}),
    log,
    hashProgress: hashing,
  });
  hashing.done();
  // The gate, before anything is written: every file and image scanned as it is now, every finding accepted.
  const gated = options.requireScan ? await scanTargets(root, new Map(plan.files.filter((file) => file.sha256 !== undefined).map((file) => [file.path, file.sha256!]))) : undefined;
  const accepted = gated === undefined ? undefined : checkScanGate(gated, options.document.scan, options.accept ?? []);
  plan.files = withSbom(
    plan.files,
    await buildSbom({
      document: options.document,
      root,
      bundle: basename(out),
      ...(trip === undefined ? {} : { bundleId: trip.id }),
      toolVersion: VERSION,
      timestamp: new Date(),
    }),
  );

  const section: Omit<BundleSection, 'size'> = {
    file: basename(out),
    ...(options.split === undefined ? {} : { partSize: options.split, partsList: `${basename(out)}${PARTS_SUFFIX}` }),
    signed: signer !== undefined,
    ...(signer === undefined ? {} : { signatureAlgorithm: signer.algorithm, keyFingerprint: signer.fingerprint }),
    contents: contentsOf(plan.files),
    tools: plan.tools,
    ...(inventory === undefined
      ? {}
      : {
          delta: {
            ...(trip?.base === undefined
              ? { inventory: inventory.name, inventorySha256: inventory.sha256, inventoryCreatedAt: inventory.inventory.createdAt }
              : { base: trip.base.id }),
            reused: plan.reused,
            reusedBytes: plan.files.filter((file) => !file.carried).reduce((sum, file) => sum + file.size, 0),
          },
        }),
    ...(trip === undefined ? {} : { site: { name: trip.site, id: trip.id, sequence: trip.sequence, builtOn: trip.builtOn } }),
    ...(accepted === undefined ? {} : { scanGate: { required: true as const, items: gated!.length, accepted } }),
    packedAt: new Date().toISOString(),
  };
  const archive = layoutArchive(plan, options.document, section, signer !== undefined);
  const carried = plan.files.filter((file) => file.carried);
  const count = options.split === undefined ? 1 : partCount(archive.size, options.split);
  const outputs =
    options.split === undefined
      ? [{ path: out, bytes: archive.size }]
      : Array.from({ length: count }, (_, i) => ({ path: partName(out, i, count), bytes: Math.min(options.split!, archive.size - i * options.split!) }));
  const actions: PackAction[] = [
    ...outputs.map((output) => ({ action: 'write' as const, ...output })),
    ...(options.split === undefined ? [] : [{ action: 'write' as const, path: `${out}${PARTS_SUFFIX}` }]),
  ];
  const summary = { files: plan.files.length + 1, carriedFiles: carried.length + 1, reusedFiles: plan.reused.length };
  if (options.dryRun) {
    if (plan.absent.length > 0) {
      const files = plan.absent.filter((a) => a.kind === 'file').length;
      log.warn(
        `${root} lacks ${files} file(s) and ${plan.absent.length - files} image(s) the document plans (a dry run before them?): ` +
          'the sizes above leave them out, and a real pack refuses (exit 5) until ag-fetch download and ag-images pull bring them',
      );
    }
    return { document: { ...options.document, root, bundle: archive.carried.bundle! }, actions, ...summary, written: undefined, absent: plan.absent };
  }

  // A killed pack's leftovers go first: the room they held counts as free.
  const swept = await sweepStale(dirname(out), [basename(out)]);
  if (swept.length > 0) log.info(`removed ${swept.length} leftover(s) of an interrupted pack: ${swept.join(', ')}`);
  await ensureRoom(dirname(out), archive.size, `writing the bundle ${basename(out)}`);
  // Like the other stages' --dir, --out may name a directory that does not exist yet.
  await mkdir(dirname(out), { recursive: true }).catch((error: unknown) => {
    throw withContext(`creating the directory for ${out}`, error);
  });
  const signature = signer === undefined ? undefined : signBytes(signer, archive.sumsText);
  const task = progress.task(`packing ${basename(out)}`, archive.size);
  const writer = new BundleWriter(out, archive.size, options.split);
  let written: WrittenBundle;
  try {
    const put = async (bytes: Buffer): Promise<void> => {
      await writer.write(bytes);
      task.advance(bytes.length);
    };
    const putSmall = async (path: string, bytes: Buffer): Promise<void> => {
      await put(Buffer.concat([encodeHeader({ path, size: bytes.length, mode: 0o644, mtime: Math.floor(Date.now() / 1000) }), bytes, ZEROS.subarray(0, padding(bytes.length))]));
    };
    await putSmall(SUMS_FILE, archive.sumsText);
    if (signature !== undefined) await putSmall(SIGNATURE_FILE, signature);
    await putSmall(DOCUMENT_FILE, archive.documentText);
    for (const file of carried) await streamFile(file, put);
    await put(EMPTY_BLOCKS);
    written = await writer.finish();
    if (written.size !== archive.size) throw new Error(`the archive is ${written.size} bytes, ${archive.size} were planned`);
  } catch (error) {
    task.done();
    await writer.abort();
    throw error instanceof VerificationError || error instanceof UsageError ? error : withContext(`writing ${basename(out)}`, error);
  }
  task.done();

  await commitOutputs(out, writer, written, options.split, signer);
  log.info(
    `packed ${summary.carriedFiles} file(s), ${written.size} bytes, into ${options.split === undefined ? basename(out) : `${written.parts!.length} part(s) of ${basename(out)}`}` +
      (inventory === undefined ? '' : `; ${plan.reused.length} file(s) left for the far side to supply (delta of ${inventory.name})`) +
      (trip === undefined ? '' : `; bundle ${trip.id}${trip.builtOn.length === 0 ? ', complete' : `, builds on ${trip.builtOn.map((ref) => ref.id).join(', ')}`}`) +
      (signer === undefined ? ' (unsigned)' : ` (signed by ${signer.fingerprint.slice(0, 16)}…)`),
  );
  const bundle: BundleSection = {
    ...archive.carried.bundle!,
    sha256: written.sha256,
    ...(written.parts === undefined ? {} : { parts: written.parts.map(({ file, size, sha256 }) => ({ file, size, sha256 })) }),
  };
  // Recorded only now that the bundle is in place under its final name: the ledger never names a bundle that was not written.
  const ledgerEntry =
    ledger === undefined || trip === undefined
      ? undefined
      : await appendLedger(ledger, {
          sequence: trip.sequence,
          id: trip.id,
          bundle: basename(out),
          sumsSha256: createHash('sha256').update(archive.sumsText).digest('hex'),
          members: archive.members,
          builtOn: trip.builtOn,
          recordedAt: new Date().toISOString(),
        });
  return { document: { ...options.document, root, bundle }, actions, ...summary, written, ...(ledgerEntry === undefined ? {} : { ledgerEntry }) };
}

/** The SBOM as one more member, written by pack (like bundle.json) and so listed in SHA256SUMS and signed with it. */
function withSbom(files: PlannedFile[], sbom: Buffer): PlannedFile[] {
  const member: PlannedFile = {
    path: SBOM_FILE,
    source: undefined,
    data: sbom,
    size: sbom.length,
    executable: false,
    mtime: Math.floor(Date.now() / 1000),
    sha256: createHash('sha256').update(sbom).digest('hex'),
    hashSource: 'computed',
    carried: true,
  };
  return [...files.filter((file) => file.path !== SBOM_FILE), member].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The key to sign with. Without one, pack refuses unless told `unsigned`:
 * the far side can only trust a bundle whose signature it checks.
 */
async function signerFor(options: PackOptions): Promise<SigningKey | undefined> {
  if (options.signKey !== undefined && options.unsigned === true) {
    throw new UsageError('--sign-key and --unsigned contradict each other', { hint: 'pass one of them' });
  }
  if (options.signKey !== undefined) return loadSigningKey(options.signKey);
  if (options.unsigned === true) return undefined;
  throw new UsageError('no signing key: a bundle for the far side is signed, so that it can check who made it', {
    hint: 'make a key pair once with ag-bundle keygen --out key.pem (carry key.pub.pem across), then pack with --sign-key key.pem; or pass --unsigned to carry an unsigned bundle',
  });
}

/**
 * Streams one file into the archive, checking it is still what SHA256SUMS
 * says: hashed again when its sha256 came from elsewhere (a blob name, the
 * document); unchanged size and mtime when pack hashed it moments ago.
 */
async function streamFile(file: PlannedFile, put: (bytes: Buffer) => Promise<void>): Promise<void> {
  await put(encodeHeader({ path: file.path, size: file.size, mode: file.executable ? 0o755 : 0o644, mtime: file.mtime }));
  const hash = file.hashedAs === undefined ? createHash('sha256') : undefined;
  let got = 0;
  if (file.data !== undefined) {
    hash?.update(file.data);
    got = file.data.length;
    await put(file.data);
  } else if (file.size > 0) {
    try {
      for await (const chunk of createReadStream(file.source!, { start: 0, end: file.size - 1, highWaterMark: 1 << 20 })) {
        hash?.update(chunk as Buffer);
        got += (chunk as Buffer).length;
        await put(chunk as Buffer);
      }
    } catch (error) {
      throw withContext(`reading ${file.path}`, error);
    }
  }
  if (got !== file.size) throw new VerificationError(`${file.path} shrank while it was packed (${got} of ${file.size} bytes); is something still writing into the root?`);
  if (file.hashedAs !== undefined) {
    const now = await stat(file.source!);
    if (now.size !== file.hashedAs.size || now.mtimeMs !== file.hashedAs.mtimeMs) {
      throw new VerificationError(`${file.path} changed while it was packed; is something still writing into the root?`, { hint: 'let it finish, then pack again' });
    }
  }
  const actual = hash?.digest('hex') ?? file.sha256;
  if (actual !== file.sha256) {
    const said = file.hashSource === 'blob-name' ? 'its blob name says' : file.hashSource === 'document' ? 'the document says' : 'it had when pack first read it';
    throw new VerificationError(`${file.path} does not match: its sha256 is ${actual}, ${said} ${file.sha256}`, {
      hint:
        file.hashSource === 'blob-name'
          ? 'the image layout is damaged: run ag-images verify, then pull again'
          : file.hashSource === 'document'
            ? 'the file changed after it was downloaded: run ag-fetch download again'
            : 'something changed the file while pack ran: run pack again',
      details: { path: file.path, expected: file.sha256, actual },
    });
  }
  const rest = padding(file.size);
  if (rest > 0) await put(ZEROS.subarray(0, rest));
}

/**
 * Puts the finished archive in place: the old parts list goes first (so an
 * older split set never looks complete beside new parts), then the parts or
 * the file, then — last — the new parts list and its signature.
 */
async function commitOutputs(out: string, writer: BundleWriter, written: WrittenBundle, split: number | undefined, signer: SigningKey | undefined): Promise<void> {
  const listPath = `${out}${PARTS_SUFFIX}`;
  const listSignature = `${out}${PARTS_SIGNATURE_SUFFIX}`;
  await rm(listPath, { force: true });
  await rm(listSignature, { force: true });
  const keep = new Set((written.parts ?? []).map((part) => part.file));
  const stale = (await readdir(dirname(out))).filter((name) => name.startsWith(`${basename(out)}.`) && /^\d{3,}$/.test(name.slice(basename(out).length + 1)) && !keep.has(name));
  for (const name of stale) await rm(join(dirname(out), name), { force: true });
  if (split !== undefined) await rm(out, { force: true });
  await writer.commit();
  if (split === undefined || written.parts === undefined) return;
  const list: PartsList = {
    apiVersion: API_VERSION,
    kind: 'BundleParts',
    bundle: basename(out),
    size: written.size,
    sha256: written.sha256,
    partSize: split,
    parts: written.parts.map(({ file, size, sha256 }) => ({ file, size, sha256 })),
  };
  const text = Buffer.from(renderPartsList(list));
  if (signer !== undefined) await writeFileAtomic(listSignature, signBytes(signer, text));
  await writeFileAtomic(listPath, text);
}
