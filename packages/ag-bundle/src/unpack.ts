import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  ensureRoom,
  MissingError,
  noProgress,
  sha256File,
  silentLogger,
  tempPathFor,
  UsageError,
  validateDocument,
  VerificationError,
  withContext,
  type AgDocument,
  type BundleReused,
  type Logger,
  type Progress,
} from '@ag/core';
import { DirectorySink } from './dir-sink.js';
import { readBundleHead } from './head.js';
import type { BundleInput } from './input.js';
import { layoutDirs, readBundleLayout } from './layouts.js';
import { scanBundle, signatureProblem, type Problem } from './scan.js';
import type { PublicKey } from './signing.js';
import { decideSite, presentBundles } from './site-chain.js';
import { DOCUMENT_FILE, SUMS_FILE } from './sums.js';
import { checkUnpackedTree } from './unpacked-check.js';
import { sweepStale, tempOwner } from './temp.js';
import { assertNoProblems, inputSize, reportSignature } from './verify.js';

export interface UnpackOptions {
  /** Where the bundle ends up (the far side's bundle root). */
  dir: string;
  /** Require a signature by this key. */
  key?: PublicKey;
  /** Replace a different bundle already unpacked in `dir`. */
  replace?: boolean;
  /** Verify and say what would happen; write nothing. */
  dryRun?: boolean;
  log?: Logger;
  progress?: Progress;
}

export interface UnpackResult {
  /** The carried document, with `root` set to `dir` and `bundle.unpackedAt`. */
  document: AgDocument;
  status: 'unpacked' | 'already-unpacked' | 'would-unpack';
  dir: string;
  files: number;
  bytes: number;
  /** Files a delta took from what `dir` held. */
  reused: number;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function entriesOf(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw withContext(`reading ${dir}`, error);
  }
}

/** Marks the previous tree while the new one is moved in (see swapInto). */
function oldPathFor(dir: string): string {
  return tempPathFor(join(dirname(dir), `${basename(dir)}.old`));
}

/**
 * A kill between swapInto's two renames leaves `dir` absent and the previous
 * tree under its `.old` temporary name: put it back before anything else.
 */
async function recoverInterruptedSwap(dir: string, log: Logger): Promise<void> {
  if (await exists(dir)) return;
  const prefix = `.${basename(dir)}.old.ag-tmp-`;
  const names = (await entriesOf(dirname(dir))) ?? [];
  for (const name of names) {
    const pid = tempOwner(name);
    if (!name.startsWith(prefix) || pid === undefined) continue;
    try {
      process.kill(pid, 0);
      continue;
    } catch {
      // That unpack is gone: its previous tree is ours to restore.
    }
    await rename(join(dirname(dir), name), dir);
    log.warn(`restored ${dir} from an unpack that was interrupted while swapping trees`);
    return;
  }
}

/**
 * Moves the finished tree to `dir`. When `dir` holds a previous bundle it is
 * first renamed aside, then the new tree is renamed in, then the old one is
 * removed: two renames, each atomic; a kill between them is undone by
 * recoverInterruptedSwap on the next run.
 */
async function swapInto(temp: string, dir: string): Promise<void> {
  const present = await entriesOf(dir);
  if (present === undefined) {
    await rename(temp, dir);
    return;
  }
  if (present.length === 0) {
    await rmdir(dir);
    await rename(temp, dir);
    return;
  }
  const old = oldPathFor(dir);
  await rename(dir, old);
  await rename(temp, dir);
  await rm(old, { recursive: true, force: true });
}

/**
 * Puts what a delta bundle left out into the new tree: hard links to the
 * same bytes in `dir` (copies where a link is refused), each hashed against
 * SHA256SUMS before it is trusted. Links mean no extra room is needed and
 * the previous tree can be removed after the swap without losing them.
 */
async function completeDelta(temp: string, dir: string, reused: BundleReused[], sums: Map<string, string>, log: Logger, progress: Progress): Promise<void> {
  const task = progress.task('checking reused files', reused.length, 'items');
  const absent: string[] = [];
  const wrong: string[] = [];
  for (const entry of reused) {
    const source = join(dir, entry.from ?? entry.path);
    const target = join(temp, entry.path);
    await mkdir(dirname(target), { recursive: true });
    try {
      await link(source, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        absent.push(entry.from === undefined ? entry.path : `${entry.path} (from ${entry.from})`);
        task.advance(1);
        continue;
      }
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw withContext(`reusing ${entry.path} from ${dir}`, error);
      await copyFile(source, target);
    }
    const { sha256 } = await sha256File(target);
    if (sha256 !== sums.get(entry.path)) wrong.push(entry.path);
    task.advance(1);
  }
  task.done();
  if (absent.length > 0) {
    throw new MissingError(`this delta bundle needs ${absent.length} file(s) that ${dir} does not have: ${absent.slice(0, 5).join(', ')}${absent.length > 5 ? ', …' : ''}`, {
      hint: `unpack it onto the bundle its inventory was taken from, or carry a full bundle (pack without --have); ${dir} was not changed`,
      details: { missing: absent },
    });
  }
  if (wrong.length > 0) {
    throw new VerificationError(`${wrong.length} file(s) this delta reuses from ${dir} do not match SHA256SUMS: ${wrong.slice(0, 5).join(', ')}`, {
      hint: `${dir} changed since its inventory was taken: take a new inventory and pack again, or carry a full bundle; ${dir} was not changed`,
      details: { mismatched: wrong },
    });
  }
  if (reused.length > 0) log.info(`took ${reused.length} file(s) the delta left out from ${dir}`);
}

/** The carried document as valid here: `root` is `dir`; a split bundle's parts (checked against the list) are named. */
function farSideDocument(document: AgDocument, dir: string, input: BundleInput): AgDocument {
  const parts = input.kind === 'parts' ? { sha256: input.list.sha256, parts: input.list.parts } : {};
  return { ...document, root: dir, bundle: { ...document.bundle!, ...parts, unpackedAt: new Date().toISOString() } };
}

/**
 * `dir` already holds this bundle (its SHA256SUMS is the bundle's): checks
 * the bundle as fully as a fresh unpack would (signature, every member) and
 * `dir` against its SHA256SUMS (`damaged` is what that found), and names
 * every bad item (exit 3). Writes nothing.
 */
async function recheck(input: BundleInput, dir: string, damaged: Problem[], options: UnpackOptions, log: Logger, progress: Progress): Promise<UnpackResult> {
  const task = progress.task(`verifying ${input.label}`, inputSize(input) ?? 0);
  const result = await scanBundle(input, { ...(options.key === undefined ? {} : { key: options.key }), onBytes: (n) => task.advance(n) }).finally(() => task.done());
  reportSignature(log, result, options.key !== undefined);
  const bundleGood = result.problems.length === 0;
  assertNoProblems(
    bundleGood ? dir : input.label,
    [...result.problems, ...damaged],
    log,
    'checking',
    bundleGood ? `${input.label} itself verified: pass --replace to restore ${dir} from it (it is swapped in only once complete)` : undefined,
  );
  if (result.document?.bundle === undefined) throw new VerificationError(`${input.label}: ${DOCUMENT_FILE} has no bundle section; it was not written by ag-bundle pack`);
  log.info(`${dir} already holds this bundle: ${input.label} and every file in ${dir} verified; nothing to do`);
  return { document: farSideDocument(result.document, dir, input), status: 'already-unpacked', dir, files: 0, bytes: 0, reused: 0 };
}

/**
 * `dir` holds a later bundle of the same site, which includes `id`: checks
 * the bundle (signature, every member) so a damaged one is still named,
 * and changes nothing. The document is the tree's own.
 */
async function alreadyIncluded(input: BundleInput, dir: string, id: string, by: string, options: UnpackOptions, log: Logger, progress: Progress): Promise<UnpackResult> {
  const task = progress.task(`verifying ${input.label}`, inputSize(input) ?? 0);
  const result = await scanBundle(input, { ...(options.key === undefined ? {} : { key: options.key }), onBytes: (n) => task.advance(n) }).finally(() => task.done());
  reportSignature(log, result, options.key !== undefined);
  assertNoProblems(input.label, result.problems, log, 'checking');
  const own = validateDocument(JSON.parse(await readFile(join(dir, DOCUMENT_FILE), 'utf8')), join(dir, DOCUMENT_FILE));
  log.info(`${dir} holds bundle ${by}, which builds on ${id} (${input.label}): nothing to do`);
  return { document: { ...own, root: dir }, status: 'already-unpacked', dir, files: 0, bytes: 0, reused: 0 };
}

/**
 * Unpacks a bundle into `dir`, verifying while extracting: everything goes
 * into a temporary directory next to `dir` (same file system), and only when
 * every check passed — signature, every file's sha256, nothing missing or
 * extra or escaping the root, the images complete — is it renamed to `dir`.
 * On any failure `dir` is untouched and the temporary is removed. The room
 * the bundle needs is checked before anything is written.
 *
 * A delta bundle is unpacked onto the bundle `dir` already holds: what it
 * left out is hard-linked from there into the new tree (and re-hashed), so
 * the result is the complete new bundle, checkable with `sha256sum -c`.
 * A re-run onto a `dir` holding the same bundle checks both the bundle and
 * `dir` in full, and changes nothing (see recheck); with `replace` it
 * restores a damaged `dir` from a bundle that verified.
 *
 * Deliberately not here: pushing images (ag-images push), or keeping files
 * of `dir` that are not part of the new bundle (the tree is replaced whole).
 */
export async function unpackBundle(source: BundleInput, options: UnpackOptions): Promise<UnpackResult> {
  const log = options.log ?? silentLogger;
  const progress = options.progress ?? noProgress;
  const dir = resolve(options.dir);
  const parent = dirname(dir);
  if (!options.dryRun) {
    await mkdir(parent, { recursive: true }).catch((error: unknown) => {
      throw withContext(`creating ${parent}`, error);
    });
    await recoverInterruptedSwap(dir, log);
    const swept = await sweepStale(parent, [basename(dir)]);
    if (swept.length > 0) log.info(`removed ${swept.length} leftover(s) of an interrupted unpack: ${swept.join(', ')}`);
  }

  const { head, input } = await readBundleHead(source);
  // A signature by another key is refused as such (exit 3) whatever DIR holds; the full pass checks it again.
  if (options.key !== undefined && head.sumsText !== undefined) {
    const refused = signatureProblem(input.label, options.key, head.sumsText, head.signature);
    if (refused !== undefined) assertNoProblems(input.label, [refused], log, 'unpacking');
  }
  const present = await entriesOf(dir);
  const occupied = present !== undefined && present.length > 0;
  const sameBundle = occupied && head.sumsText !== undefined && (await readFile(join(dir, SUMS_FILE)).catch(() => undefined))?.equals(head.sumsText) === true;
  let damaged: Problem[] = [];
  if (sameBundle) {
    const task = progress.task(`checking ${dir}`, 0, 'items');
    damaged = await checkUnpackedTree(dir, head.sumsText!, head.signature, task).finally(() => task.done());
    if (damaged.length === 0 || !options.replace) return recheck(input, dir, damaged, options, log, progress);
    log.warn(`${dir} holds this bundle, but ${damaged.length} item(s) in it are damaged (${damaged.map((problem) => problem.item).join(', ')}): unpacking it again (--replace)`);
  }
  // A bundle packed for a site: its bases must be here, and one the tree already includes changes nothing.
  const site = head.document?.bundle?.site;
  let siteReplaces = false;
  if (site !== undefined && head.sumsText !== undefined) {
    const decision = decideSite(input.label, dir, site, createHash('sha256').update(head.sumsText).digest('hex'), await presentBundles(dir));
    if (decision.action === 'included') return alreadyIncluded(input, dir, site.id, decision.by, options, log, progress);
    siteReplaces = decision.replaces;
  }
  const reused = head.document?.bundle?.delta?.reused ?? [];
  const isDelta = head.document?.bundle?.delta !== undefined;
  if (occupied && !isDelta && !sameBundle && !siteReplaces) {
    if (!(await exists(join(dir, SUMS_FILE)))) {
      throw new UsageError(`${dir} is not empty and holds no unpacked bundle (no ${SUMS_FILE}); refusing to replace it`, {
        hint: 'unpack into an empty or new directory',
      });
    }
    if (!options.replace) {
      throw new UsageError(`${dir} already holds a different bundle`, { hint: 'pass --replace to replace it (it is swapped out only once the new one is complete), or unpack elsewhere' });
    }
  }
  if (isDelta) {
    const absent: string[] = [];
    for (const entry of reused) if (!occupied || !(await exists(join(dir, entry.from ?? entry.path)))) absent.push(entry.from ?? entry.path);
    if (absent.length > 0) {
      throw new MissingError(
        `${input.label} is a delta of ${head.document?.bundle?.delta?.base ?? head.document?.bundle?.delta?.inventory}: it needs ${absent.length} file(s) that ${dir} lacks: ${absent.slice(0, 5).join(', ')}${absent.length > 5 ? ', …' : ''}`,
        { hint: `unpack it onto the bundle that inventory was taken from, or carry a full bundle (pack without --have); nothing was written`, details: { missing: absent } },
      );
    }
  }
  const size = inputSize(input) ?? head.document?.bundle?.size;
  if (options.dryRun) {
    log.info(`would unpack ${input.label} into ${dir}${isDelta ? ` on top of what it holds (${reused.length} file(s) reused)` : ''}`);
  } else if (size !== undefined) {
    await ensureRoom(parent, size, `unpacking ${input.label}`);
  }

  const temp = tempPathFor(dir);
  if (!options.dryRun) await mkdir(temp, { mode: 0o755 });
  try {
    const task = progress.task(`unpacking ${input.label}`, size ?? 0);
    const result = await scanBundle(input, {
      ...(options.key === undefined ? {} : { key: options.key }),
      ...(options.dryRun ? {} : { sink: new DirectorySink(temp) }),
      onBytes: (n) => task.advance(n),
    }).finally(() => task.done());
    reportSignature(log, result, options.key !== undefined);
    assertNoProblems(input.label, result.problems, log, 'unpacking');
    if (result.document?.bundle === undefined) throw new VerificationError(`${input.label}: ${DOCUMENT_FILE} has no bundle section; it was not written by ag-bundle pack`);
    const document = result.document;
    if (options.dryRun) {
      return { document: farSideDocument(document, dir, input), status: 'would-unpack', dir, files: result.files, bytes: result.bytes, reused: result.reused.length };
    }
    await completeDelta(temp, dir, result.reused, result.sums, log, progress);
    // The images must be whole on this side too: every blob their manifests reach is here.
    for (const layout of layoutDirs(result.sums.keys())) await readBundleLayout(temp, layout);
    await swapInto(temp, dir);
    log.info(`unpacked ${result.files} file(s), ${result.bytes} bytes, into ${dir}`);
    return { document: farSideDocument(document, dir, input), status: 'unpacked', dir, files: result.files, bytes: result.bytes, reused: result.reused.length };
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}
