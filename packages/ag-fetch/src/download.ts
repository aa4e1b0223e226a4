import {
  AgError,
  DiskBudget,
  downloadFile,
  ensureRoom,
  formatBytes,
  noProgress,
  partialPathFor,
  progressCallback,
  resolveInRoot,
  settleWithLimit,
  silentLogger,
  UsageError,
  type AgDocument,
  type DownloadResult,
  type FileArtifact,
  type Logger,
  type PlannedDownload,
  type Progress,
  type RetryPolicy,
} from '@ag/core';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { mirrorUrl, NO_MIRRORS, type Mirrors } from './mirrors.js';
import { canonicalFile } from './file-order.js';

export interface DownloadFilesOptions {
  /** The bundle root (absolute); every file goes to `root/<file.path>`. */
  root: string;
  /** Files fetched at once. Default 4. */
  concurrency?: number;
  /** Extra request headers (credentials for a mirror); never written to the document. */
  headers?: Record<string, string>;
  /** Applied on top of the plan's URLs (to the upstream URL when the plan recorded one). */
  mirrors?: Mirrors;
  dispatcher?: Dispatcher;
  retries?: number;
  retryPolicy?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  log?: Logger;
  progress?: Progress;
  now?: Date;
}

export interface FileOutcome {
  file: FileArtifact;
  result: DownloadResult;
}

/** One entry of `download --dry-run` (the document's fetch.dryRun.files). */
export type DownloadAction = PlannedDownload;

/** The URL download fetches a file from: the plan's, or its upstream URL under the mirrors given now. */
export function urlFor(file: FileArtifact, mirrors: Mirrors): string {
  return mirrors === NO_MIRRORS || (Object.keys(mirrors.hosts).length === 0 && mirrors.base === undefined)
    ? file.source.url
    : mirrorUrl(file.source.upstreamUrl ?? file.source.url, mirrors);
}

function modeFor(file: FileArtifact): number {
  return file.kind === 'binary' ? 0o755 : 0o644;
}

function filesOf(document: AgDocument): FileArtifact[] {
  if (document.fetch === undefined) {
    throw new UsageError('the document has no fetch section: nothing to download', { hint: 'start the pipeline with ag-fetch plan' });
  }
  return document.fetch.files;
}

/** What `downloadFiles` would do, without doing it (for --dry-run). */
export function plannedDownloads(document: AgDocument, options: Pick<DownloadFilesOptions, 'root' | 'mirrors'>): DownloadAction[] {
  return filesOf(document).map((file) => ({
    action: existsSync(resolveInRoot(options.root, file.path)) ? 'verify-present' : 'fetch',
    path: file.path,
    url: urlFor(file, options.mirrors ?? NO_MIRRORS),
    ...(file.sha256 === undefined ? {} : { sha256: file.sha256 }),
    ...(file.size === undefined ? {} : { size: file.size }),
  }));
}

/** The fetch section less an earlier dry run's plan (a real download replaces it with what it did). */
function withoutDryRun(fetch: NonNullable<AgDocument['fetch']>): NonNullable<AgDocument['fetch']> {
  const { dryRun: _planned, ...rest } = fetch;
  return rest;
}

/**
 * The error a failed run ends with: the worst kind first (a verification
 * failure is exit 3), every failed file named with the partial file it left
 * for the next run to resume, and what became of the files that finished.
 */
function failure(failed: { file: FileArtifact; error: AgError }[], total: number): AgError {
  const order = ['verification', 'missing', 'unreachable', 'system', 'usage', 'external', 'internal'];
  const sorted = [...failed].sort((a, b) => order.indexOf(a.error.kind) - order.indexOf(b.error.kind));
  const first = sorted[0]!;
  const kept = (error: AgError): string => {
    const partial = error.details?.['partial'];
    return typeof partial === 'string' ? ` (${String(error.details?.['partialBytes'])} bytes kept in ${partial} to resume from)` : '';
  };
  const lines = sorted.map((f) => `${f.file.path}: ${f.error.message}${kept(f.error)}`);
  const message =
    failed.length === 1
      ? `downloading ${first.file.path}: ${first.error.message}`
      : `${failed.length} of ${total} files failed:\n  ${lines.join('\n  ')}`;
  const finished = total - failed.length;
  const hint = `${first.error.hint ?? 'run again'}${finished > 0 ? `; the ${finished} file(s) that finished are verified in place, and a re-run only checks them` : ''}`;
  return new AgError(first.error.kind, message, { hint, cause: first.error, details: first.error.details });
}

/**
 * Refuses before a byte is written when the files whose sizes the plan
 * knows, less what is already here, cannot fit under `root` (exit 6).
 * Files of unknown size claim their room from `budget` once their server
 * says how long they are.
 */
async function ensureRoomForKnownSizes(files: FileArtifact[], root: string): Promise<void> {
  let bytes = 0;
  let count = 0;
  for (const file of files) {
    if (file.size === undefined) continue;
    const dest = resolveInRoot(root, file.path);
    const have = (await sizeIfFile(dest)) === file.size ? file.size : ((await sizeIfFile(partialPathFor(dest))) ?? 0);
    if (have >= file.size) continue;
    bytes += file.size - have;
    count += 1;
  }
  if (count > 0) await ensureRoom(root, bytes, `downloading ${count} file(s) of known size (${formatBytes(bytes)})`, 'free disk space (or download into a directory on another file system: --dir) and run again; nothing was written');
}

async function sizeIfFile(path: string): Promise<number | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? info.size : undefined;
}

/**
 * Fetches every file of the document's fetch section into the bundle root,
 * verifying each against its SHA-256 and size when the plan knows them, and
 * returns the document with each file's sha256 and size recorded (a file the
 * plan had no checksum for gets `sha256From: "download"`) and a
 * `fetch.download` summary. Idempotent: files already present and verified
 * are not fetched again. Any failure throws after every file was tried,
 * naming all that failed; nothing unverified is ever left at a file's path.
 * Free space is checked before anything is written (see
 * ensureRoomForKnownSizes, DiskBudget); a file that fails part-way keeps
 * its partial file for the next run to resume from, and the error says
 * where.
 *
 * Does not touch OS packages or images (other steps and stages do).
 */
export async function downloadFiles(document: AgDocument, options: DownloadFilesOptions): Promise<{ document: AgDocument; outcomes: FileOutcome[] }> {
  const files = filesOf(document);
  const log = options.log ?? silentLogger;
  const progress = options.progress ?? noProgress;
  const mirrors = options.mirrors ?? NO_MIRRORS;
  await ensureRoomForKnownSizes(files, options.root);
  const room = new DiskBudget(options.root);
  progress.expect(files.length, files.reduce((sum, file) => sum + (file.size ?? 0), 0), 'files');
  const results = await settleWithLimit(files, options.concurrency ?? 4, async (file) => {
    const dest = resolveInRoot(options.root, file.path);
    const task = progress.task(file.path, file.size ?? 0);
    try {
      return await downloadFile({
        url: urlFor(file, mirrors),
        dest,
        sha256: file.sha256,
        size: file.size,
        mode: modeFor(file),
        room,
        onProgress: progressCallback(task),
        onRetry: (event) => log.warn(`${file.path}: ${event.error.message}; retrying in ${Math.ceil(event.delayMs / 100) / 10} s`),
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        ...(options.retries === undefined ? {} : { retries: options.retries }),
        ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      task.done();
    }
  });
  const failed: { file: FileArtifact; error: AgError }[] = [];
  const outcomes: FileOutcome[] = [];
  results.forEach((settled, index) => {
    const file = files[index]!;
    if (settled.status === 'fulfilled') outcomes.push({ file, result: settled.value });
    else failed.push({ file, error: settled.reason instanceof AgError ? settled.reason : new AgError('internal', String(settled.reason), { cause: settled.reason }) });
  });
  if (failed.length > 0) throw failure(failed, files.length);

  const updated = outcomes.map(({ file, result }) =>
    canonicalFile({ ...file, sha256: result.sha256, size: result.size, sha256From: file.sha256From ?? 'download' }),
  );
  const fetched = outcomes.filter((o) => !o.result.skipped);
  const bytes = outcomes.reduce((sum, o) => sum + o.result.size, 0);
  const fetchedBytes = fetched.reduce((sum, o) => sum + o.result.size, 0);
  const unpinned = outcomes.filter((o) => o.file.sha256 === undefined);
  const reusedUnverified = outcomes.filter((o) => o.result.skipped && !o.result.verified).length;
  log.info(
    `${files.length} files under ${options.root}: ${fetched.length} fetched (${formatBytes(fetchedBytes)}), ` +
      `${outcomes.length - fetched.length - reusedUnverified} already present and verified` +
      `${reusedUnverified > 0 ? `, ${reusedUnverified} already present with no checksum to verify against` : ''}; ${formatBytes(bytes)} in all`,
  );
  const resumed = fetched.filter((o) => o.result.resumed);
  if (resumed.length > 0) log.info(`resumed: ${resumed.map((o) => o.file.path).join(', ')}`);
  if (unpinned.length > 0) {
    log.warn(
      `${unpinned.length} file(s) had no checksum in the plan; recorded what this download got (trust on first use): ${unpinned.map((o) => o.file.path).join(', ')}`,
    );
  }
  return {
    document: {
      ...document,
      root: options.root,
      fetch: {
        ...withoutDryRun(document.fetch!),
        files: updated,
        download: {
          completedAt: (options.now ?? new Date()).toISOString(),
          files: outcomes.length,
          bytes,
          fetched: fetched.length,
          reused: outcomes.length - fetched.length,
        },
      },
    },
    outcomes,
  };
}
