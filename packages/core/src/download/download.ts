import { createHash, type Hash } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Dispatcher } from 'undici';
import { TEMP_MARKER } from '../atomic.js';
import { BatchedWrites } from '../batched-writes.js';
import { AgError, causeChain, UnreachableError, VerificationError, withContext } from '../errors.js';
import { hashFileStart, sha256File } from '../hash.js';
import { readEachChunk } from './each-chunk.js';
import { requestFollowingRedirects, statusError, type HttpResponse } from './http.js';
import { RefusalWindow } from './refusals.js';
import { DEFAULT_RETRY_POLICY, retryDecision, sleep, type RetryEvent, type RetryPolicy } from './retry.js';
import type { DiskBudget, RoomReservation } from './room.js';

/** Reported as bytes arrive. `total` is undefined until the server says how long the file is. */
export interface DownloadProgress {
  url: string;
  dest: string;
  /** Bytes on disk so far, resumed bytes included. */
  received: number;
  total: number | undefined;
  /** Bytes that were already there when this attempt started (resumed). */
  resumedFrom: number;
}

export interface DownloadOptions {
  url: string;
  /** The final path; nothing is ever written there until the content is verified. */
  dest: string;
  /** Expected SHA-256 (hex). Without it the file is accepted as it comes and its digest returned. */
  sha256?: string | undefined;
  /** Expected size in bytes. */
  size?: number | undefined;
  /** Extra request headers (Authorization…); dropped on a redirect to another host. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  /** Further attempts after the first; default 4. Attempts that resumed and made progress do not count. */
  retries?: number;
  /** Back-off tuning (tests shorten it). */
  retryPolicy?: Partial<RetryPolicy>;
  /** File mode for the finished file, e.g. 0o755 for a binary. */
  mode?: number;
  /** Resume a partial file left by an earlier, interrupted run (default true). */
  resume?: boolean;
  /** The free space to claim from before writing, once the server says how long the file is. */
  room?: DiskBudget;
  onProgress?: (progress: DownloadProgress) => void;
  onRetry?: (event: RetryEvent) => void;
}

export interface DownloadResult {
  path: string;
  sha256: string;
  size: number;
  /** Part of the content came from an earlier attempt or run, fetched on with a Range request. */
  resumed: boolean;
  /** The file was already in place (and verified, when a checksum was given); nothing was fetched. */
  skipped: boolean;
  /** The content was checked against an expected SHA-256. */
  verified: boolean;
  /** The URL that served the content, after redirects (undefined when skipped). */
  finalUrl?: string;
  /** HTTP requests made (0 when skipped). */
  attempts: number;
}

/** Where an unfinished download waits, next to its destination, so a later run can resume it. */
export function partialPathFor(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}${TEMP_MARKER}partial`);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** `Content-Range: bytes 100-199/200` -> { start: 100, total: 200 }. */
export function parseContentRange(value: string | string[] | undefined): { start: number | undefined; total: number | undefined } {
  const text = Array.isArray(value) ? value[0] : value;
  const match = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(text?.trim() ?? '');
  if (match === null) return { start: undefined, total: undefined };
  return {
    start: match[1] === undefined ? undefined : Number(match[1]),
    total: match[2] === undefined || match[2] === '*' ? undefined : Number(match[2]),
  };
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The partial file of one download: what reached it, hashed as it was written. */
class PartialFile {
  private handle: FileHandle | undefined;
  private writes: BatchedWrites | undefined;
  hash: Hash = createHash('sha256');
  /** Bytes on disk (and in `hash`). */
  size = 0;
  /** The room claimed for this attempt's bytes, crossed off as they are written. */
  reservation: RoomReservation | undefined;

  constructor(readonly path: string) {}

  /** Bytes received so far, written or about to be. */
  get received(): number {
    return this.size + (this.writes?.pending ?? 0);
  }

  /** Picks up what an earlier run left, if anything. */
  async adopt(): Promise<void> {
    const existing = await sizeOf(this.path);
    if (existing === undefined || existing === 0) return;
    // Hashed first, so that a resumed download's digest covers every byte.
    this.hash = await hashFileStart(this.path, existing);
    this.size = existing;
  }

  async restart(): Promise<void> {
    this.writes?.discard();
    await this.close();
    await rm(this.path, { force: true });
    this.hash = createHash('sha256');
    this.size = 0;
  }

  /** Opens the file to append to, before a body's bytes arrive. */
  async openToAppend(): Promise<BatchedWrites> {
    if (this.writes !== undefined) return this.writes;
    this.handle = await open(this.path, 'a', 0o644);
    this.writes = new BatchedWrites(this.handle.fd, null, this.path, (pieces, length) => {
      for (const piece of pieces) this.hash.update(piece);
      this.size += length;
      this.reservation?.wrote(length);
    });
    return this.writes;
  }

  /** Writes what is gathered; the hash follows only bytes that reached the file, so a broken attempt resumes exactly. */
  flush(): void {
    this.writes?.flush();
  }

  async finish(): Promise<void> {
    this.flush();
    this.handle ??= await open(this.path, 'a', 0o644);
    await this.handle.sync();
    await this.close();
  }

  async close(): Promise<void> {
    this.reservation?.release();
    this.reservation = undefined;
    const handle = this.handle;
    this.handle = undefined;
    this.writes = undefined;
    await handle?.close().catch(() => undefined);
  }
}

/** A body that ended before Content-Length said it would: the connection broke; worth resuming. */
function prematureEnd(url: string, received: number, expected: number): AgError {
  return new UnreachableError(`${url}: the connection closed after ${received} of ${expected} bytes`, {
    details: { retryable: true },
  });
}

/**
 * Downloads one file to `dest`, streaming: bytes go to a partial file next to
 * the destination while they are hashed, and only a file whose SHA-256 and
 * size match what was expected is renamed into place. A mismatch deletes the
 * partial file and throws a VerificationError (exit 3) naming the file, the
 * URL, the expected and the actual digest: nothing is left at `dest`.
 *
 * - Idempotent: a `dest` that already verifies is kept (`skipped`), one that
 *   does not is removed and fetched again.
 * - Resumes with `Range`/`If-Range` after a dropped connection, and from the
 *   partial file an interrupted run left; a resumed file that fails
 *   verification is fetched once more from the start before giving up.
 * - Retries connection resets, timeouts, 408/429/5xx with exponential
 *   back-off, honouring Retry-After.
 * - Follows redirects, dropping credentials on a change of host.
 *
 * Does not limit concurrency (see `createLimiter`) and never reads a whole file into memory.
 */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const expected = options.sha256?.toLowerCase();
  const dest = options.dest;
  const what = `downloading ${options.url} to ${dest}`;
  try {
    const existing = await existingFile(dest, expected, options.size);
    if (existing !== undefined) {
      // A file carried or copied without its mode is still the right file; give it back its mode.
      if (options.mode !== undefined && ((await stat(dest)).mode & 0o7777) !== options.mode) await chmod(dest, options.mode);
      return existing;
    }
    await mkdir(dirname(dest), { recursive: true });
    return await fetchToDestination(options, expected);
  } catch (error) {
    throw await withPartialSaid(error instanceof AgError ? error : withContext(what, error), dest);
  }
}

/** Whether the disk (or the quota) filled up somewhere down the error's causes. */
function diskFull(error: unknown): boolean {
  return causeChain(error).some((e) => e['code'] === 'ENOSPC' || e['code'] === 'EDQUOT');
}

/**
 * Says truthfully what a failed download left: the partial file it keeps
 * for the next run to resume (where, how many bytes, how to drop it), or
 * that it kept nothing. A full disk is said as such, whatever the cause's
 * own hint claims.
 */
async function withPartialSaid(error: AgError, dest: string): Promise<AgError> {
  if (error.kind === 'verification') return error;
  const partial = partialPathFor(dest);
  let kept = await sizeOf(partial).catch(() => undefined);
  if (kept === 0) {
    // An empty partial file is no head start: not worth keeping, and not worth a word.
    await rm(partial, { force: true });
    kept = undefined;
  }
  const full = diskFull(error);
  const said =
    kept === undefined
      ? `nothing of ${basename(dest)} was kept`
      : `the ${kept} bytes received are kept in ${partial}, and the next run resumes from there (remove it to start over${full ? ' or to free the space' : ''})`;
  const hint = full ? `the disk is full: free space (or download into a directory on another file system: --dir) and run again; ${said}` : `${error.hint === undefined ? '' : `${error.hint}; `}${said}`;
  return new AgError(full ? 'system' : error.kind, error.message, { hint, cause: error, details: { ...error.details, ...(kept === undefined ? {} : { partial, partialBytes: kept }) } });
}

async function existingFile(dest: string, expected: string | undefined, size: number | undefined): Promise<DownloadResult | undefined> {
  const existingSize = await sizeOf(dest);
  if (existingSize === undefined) return undefined;
  if (size !== undefined && existingSize !== size) {
    await rm(dest, { force: true });
    return undefined;
  }
  const actual = await sha256File(dest);
  if (expected !== undefined && actual.sha256 !== expected) {
    // A wrong file at the destination is worse than none: remove it before fetching again.
    await rm(dest, { force: true });
    return undefined;
  }
  return { path: dest, sha256: actual.sha256, size: actual.size, resumed: false, skipped: true, verified: expected !== undefined, attempts: 0 };
}

async function fetchToDestination(options: DownloadOptions, expected: string | undefined): Promise<DownloadResult> {
  const { url, dest } = options;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy, ...(options.retries === undefined ? {} : { retries: options.retries }) };
  const partial = new PartialFile(partialPathFor(dest));
  if (options.resume === false) await partial.restart();
  else await partial.adopt();
  let resumedEver = partial.size > 0;
  let restartedAfterMismatch = false;
  let validator: string | undefined;
  let finalUrl = url;
  let attempts = 0;
  let failures = 0;
  const refusals = new RefusalWindow(policy.refusedWindowMs);
  try {
    for (;;) {
      const startedAt = partial.size;
      attempts += 1;
      try {
        finalUrl = await fetchOnce(options, partial, validator, (v) => (validator = v));
      } catch (thrown) {
        await partial.close();
        if (options.signal?.aborted) throw thrown;
        const refused = refusals.decide(thrown instanceof AgError ? thrown : withContext(`fetching ${url}`, thrown));
        if (refused !== undefined) {
          // The server restarts (or is not up yet): wait for it a bounded time, apart from the retries.
          if (!refused.retry) throw refused.error;
          options.onRetry?.({ attempt: attempts, delayMs: refused.delayMs, error: refused.error });
          await sleep(refused.delayMs, options.signal);
          continue;
        }
        // Progress on a resumable transfer is progress: only attempts that got nowhere count.
        if (partial.size > startedAt) failures = 0;
        failures += 1;
        const decision = retryDecision(thrown, failures, policy);
        if (!decision.retry) throw decision.error ?? thrown;
        const error = thrown instanceof AgError ? thrown : withContext(`fetching ${url}`, thrown);
        options.onRetry?.({ attempt: attempts, delayMs: decision.delayMs, error });
        if (partial.size > 0) resumedEver = true;
        await sleep(decision.delayMs, options.signal);
        continue;
      }
      await partial.finish();
      const actual = partial.hash.digest('hex');
      const size = partial.size;
      const mismatch =
        (expected !== undefined && actual !== expected) || (options.size !== undefined && size !== options.size);
      if (mismatch && resumedEver && !restartedAfterMismatch) {
        // The bytes kept from before may be what is wrong (the file changed upstream, a proxy mangled it): start over once.
        restartedAfterMismatch = true;
        resumedEver = false;
        validator = undefined;
        await partial.restart();
        continue;
      }
      if (mismatch) {
        await partial.restart();
        const wrongSize = options.size !== undefined && size !== options.size;
        throw new VerificationError(
          wrongSize && (expected === undefined || actual === expected)
            ? `${basename(dest)}: size mismatch for ${url}: expected ${options.size} bytes, got ${size}; nothing was written to ${dest}`
            : `${basename(dest)}: sha256 mismatch for ${url}: expected ${expected}, got ${actual}; nothing was written to ${dest}`,
          {
            hint: 'the upstream file or its checksum changed, or something between here and the host altered it; check the URL and the pinned checksum',
            details: { file: dest, url, expectedSha256: expected, actualSha256: actual, expectedSize: options.size, actualSize: size },
          },
        );
      }
      if (options.mode !== undefined) await chmod(partial.path, options.mode);
      await rename(partial.path, dest);
      return { path: dest, sha256: actual, size, resumed: resumedEver, skipped: false, verified: expected !== undefined, finalUrl, attempts };
    }
  } finally {
    await partial.close();
  }
}

/** One request: appends what it gets to the partial file; returns the final URL. Throws on any failure. */
async function fetchOnce(
  options: DownloadOptions,
  partial: PartialFile,
  validator: string | undefined,
  setValidator: (value: string | undefined) => void,
): Promise<string> {
  const { url, dest } = options;
  const headers: Record<string, string> = { ...options.headers, 'accept-encoding': 'identity' };
  const offset = partial.size;
  if (offset > 0) {
    headers['range'] = `bytes=${offset}-`;
    // If-Range: a server whose file changed since the first attempt sends it whole (200) instead of a mismatched tail.
    if (validator !== undefined) headers['if-range'] = validator;
  }
  const response = await requestFollowingRedirects(url, {
    headers,
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let total: number | undefined;
  let startOver = false;
  if (response.statusCode === 200) {
    startOver = offset > 0;
    const length = header(response, 'content-length');
    total = length === undefined ? undefined : Number(length);
  } else if (response.statusCode === 206 && offset > 0) {
    const range = parseContentRange(response.headers['content-range']);
    if (range.start !== offset) {
      await response.body.dump();
      await partial.restart();
      throw new UnreachableError(`${url}: asked for bytes from ${offset}, got a range from ${range.start ?? '?'}; starting over`, {
        details: { retryable: true },
      });
    }
    total = range.total;
  } else if (response.statusCode === 416 && offset > 0) {
    await response.body.dump();
    const range = parseContentRange(response.headers['content-range']);
    // The partial file may already hold every byte; verification decides.
    if (range.total === offset) return response.url;
    await partial.restart();
    throw new UnreachableError(`${url}: the server refused to resume at byte ${offset}; starting over`, { details: { retryable: true } });
  } else {
    await response.body.dump();
    throw statusError(url, response);
  }
  const etag = header(response, 'etag');
  const lastModified = header(response, 'last-modified');
  setValidator(etag !== undefined && !etag.startsWith('W/') ? etag : lastModified);
  if (options.size !== undefined && total !== undefined && total !== options.size) {
    await response.body.dump();
    await partial.restart();
    throw new VerificationError(
      `${basename(dest)}: size mismatch for ${url}: expected ${options.size} bytes, the server has ${total}; nothing was written to ${dest}`,
      { hint: 'the upstream file changed, or the plan is stale; plan again', details: { file: dest, url, expectedSize: options.size, actualSize: total } },
    );
  }
  // The body is read from now on, before anything else is awaited: bytes that arrive while the file
  // is opened are held here, not left in the stream, which a connection closing meanwhile would destroy
  // with them (the next attempt would then start from zero instead of resuming; ag-fetch's resume test
  // saw that under load).
  const held: Buffer[] = [];
  let take: ((chunk: Buffer) => void) | undefined;
  const reading = readEachChunk(response.body, (chunk) => (take === undefined ? held.push(chunk) : take(chunk)));
  // Settled below; until then a break must not count as an unhandled rejection.
  reading.catch(() => undefined);
  try {
    if (startOver) await partial.restart();
    if (options.room !== undefined && total !== undefined) {
      partial.reservation = await options.room.reserve(total - partial.size, `downloading ${basename(dest)} (${total - partial.size} bytes to write)`);
    }
    const resumedFrom = partial.size;
    options.onProgress?.({ url, dest, received: partial.size, total, resumedFrom });
    const writes = await partial.openToAppend();
    const write = (chunk: Buffer): void => {
      writes.add(chunk);
      options.onProgress?.({ url, dest, received: partial.received, total, resumedFrom });
    };
    for (const chunk of held.splice(0)) write(chunk);
    take = write;
    await reading;
  } catch (error) {
    // Nothing more is wanted from a body whose bytes cannot be kept (no room, a failed write).
    response.body.destroy();
    throw error;
  } finally {
    // What arrived intact before a break is kept, so the next attempt resumes after it.
    partial.flush();
  }
  if (total !== undefined && partial.size < total) throw prematureEnd(url, partial.size, total);
  return response.url;
}
