import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AgError, isDigest, silentLogger, type Logger, type OciLayout } from '@ag/core';
import type { HostPort } from '../endpoint.js';
import { AccessLog } from './access-log.js';
import { Authenticator } from './authenticator.js';
import { LiveCatalog, type Catalog, type Repository } from './catalog.js';
import { connectionLimit, TIMEOUTS } from './limits.js';
import { serveReferrers } from './referrers.js';

/**
 * The embedded registry: a read-only OCI distribution server (distribution
 * spec, "Pull" and "Content discovery") that serves an OCI image layout as
 * it is on disk, so the bundle's blobs are never copied a second time.
 * TLS always; HTTP Basic authentication against a bcrypt htpasswd file.
 *
 * Deliberately not: pushes, deletes, token auth, the Referrers API.
 */

export interface EmbeddedServerOptions {
  layout: string;
  listen: HostPort;
  /** PEM certificate chain and key for TLS. */
  cert: string;
  key: string;
  /** user -> bcrypt hash; every request must authenticate as one of them. */
  users: Map<string, string>;
  log?: Logger;
  /** How often index.json is checked for changes (ms). */
  reloadIntervalMs?: number;
  /** One line per request goes here (rotated); without it, to the logger at debug level. */
  accessLogFile?: string;
  /** At most this many connections at once (default: below the open-file limit). */
  maxConnections?: number;
}

export interface EmbeddedServer {
  server: Server;
  address: HostPort;
  catalog(): Promise<Catalog>;
  /** bcrypt checks run so far. */
  passwordChecks(): number;
  close(): Promise<void>;
}

const API_VERSION_HEADER = 'registry/2.0';
const READ_ONLY_MESSAGE =
  'this registry is read-only: ag-registry --mode embedded serves the bundle\'s OCI layout as it is; run ag-registry up --mode distribution to accept pushes';
/** Manifests kept in memory (bytes); they are content-addressed, so a digest's bytes never change. */
const MANIFEST_CACHE_BYTES = 64 << 20;

interface OciError {
  status: number;
  code: string;
  message: string;
  detail?: unknown;
}

function sendError(res: ServerResponse, head: boolean, error: OciError, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ code: error.code, message: error.message, detail: error.detail ?? null }] });
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(head ? undefined : body);
}

function sendJson(res: ServerResponse, head: boolean, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
}

/** Parses a single `bytes=` range against a size; undefined when the header is absent, null when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | null {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start > end || start >= size) return null;
  return { start, end };
}

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Starts the embedded registry and resolves once it listens. */
export async function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const log = options.log ?? silentLogger;
  const catalog = new LiveCatalog(options.layout, options.reloadIntervalMs ?? 2_000, (loaded) => {
    log.info(`serving ${loaded.repositories.size} repositories from ${options.layout}`);
    for (const why of loaded.skipped) log.warn(`not served: ${why}`);
  });
  await catalog.get();
  const auth = new Authenticator(options.users);
  const manifests = new ManifestCache(MANIFEST_CACHE_BYTES);
  const accessLog = options.accessLogFile !== undefined ? new AccessLog(options.accessLogFile) : undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader('docker-distribution-api-version', API_VERSION_HEADER);
    res.setHeader('x-content-type-options', 'nosniff');
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    const url = new URL(req.url ?? '/', 'https://registry.invalid');
    const path = url.pathname;
    if (!path.startsWith('/v2')) {
      sendError(res, head, { status: 404, code: 'NOT_FOUND', message: `no such endpoint ${path}: this is an OCI registry, the API is under /v2/` });
      return;
    }
    if (!(await auth.check(req.headers.authorization, req.socket.remoteAddress))) {
      sendError(res, head, { status: 401, code: 'UNAUTHORIZED', message: 'authentication required' }, { 'www-authenticate': 'Basic realm="ag-registry"' });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(res, head, { status: 405, code: 'UNSUPPORTED', message: READ_ONLY_MESSAGE, detail: { method, path } }, { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/v2' || path === '/v2/') {
      sendJson(res, head, {});
      return;
    }
    const current = await catalog.get();
    if (path === '/v2/_catalog') {
      serveCatalog(res, head, current, url);
      return;
    }
    let match = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (match) {
      const repository = lookup(res, head, current, match[1]!);
      if (repository) serveTags(res, head, match[1]!, repository, url);
      return;
    }
    match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (match) {
      const repository = lookup(res, head, current, match[1]!);
      if (repository) await serveManifest(res, head, current.layout, repository, match[2]!, manifests);
      return;
    }
    match = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(path);
    if (match) {
      const repository = lookup(res, head, current, match[1]!);
      if (repository === undefined) return;
      if (!isDigest(match[2]!)) sendError(res, head, { status: 400, code: 'DIGEST_INVALID', message: `invalid digest ${JSON.stringify(match[2])}` });
      else serveReferrers(res, head, repository, match[2]!, url);
      return;
    }
    match = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
    if (match && match[2] !== 'uploads') {
      const repository = lookup(res, head, current, match[1]!);
      if (repository) await serveBlob(req, res, head, current.layout, repository, match[2]!);
      return;
    }
    sendError(res, head, { status: 404, code: 'NOT_FOUND', message: `no such endpoint ${path}` });
  };

  const server = createServer(
    {
      cert: options.cert,
      key: options.key,
      minVersion: 'TLSv1.2',
      handshakeTimeout: TIMEOUTS.handshakeMs,
      headersTimeout: TIMEOUTS.headersMs,
      requestTimeout: TIMEOUTS.requestMs,
      keepAliveTimeout: TIMEOUTS.keepAliveMs,
      connectionsCheckingInterval: TIMEOUTS.checkMs,
    },
    (req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      const line = `${req.socket.remoteAddress ?? '-'} ${req.method} ${req.url} ${res.statusCode} ${res.getHeader('content-length') ?? '-'} ${Date.now() - started}ms`;
      if (accessLog !== undefined) accessLog.write(`${new Date(started).toISOString()} ${line}`);
      else log.debug(line);
    });
    handle(req, res).catch((error: unknown) => {
      log.error(`${req.method} ${req.url}: ${(error as Error).message}`);
      if (!res.headersSent) sendError(res, req.method === 'HEAD', { status: 500, code: 'UNKNOWN', message: (error as Error).message });
      else res.destroy();
    });
    },
  );
  server.maxConnections = options.maxConnections ?? connectionLimit();
  // A TLS connection that never sends a request is under neither headersTimeout (Node counts from a request's
  // first byte) nor keepAliveTimeout (from a response), and a socket timeout set here is cleared when the TLS
  // layer ends its handshake timer: close it with a timer of its own unless a request comes.
  const waiting = new WeakMap<object, NodeJS.Timeout>();
  server.on('secureConnection', (socket: TLSSocket) => {
    const timer = setTimeout(() => socket.destroy(), TIMEOUTS.firstRequestMs);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  server.on('request', (req: IncomingMessage) => {
    const timer = waiting.get(req.socket);
    if (timer !== undefined) {
      clearTimeout(timer);
      waiting.delete(req.socket);
    }
  });
  server.on('tlsClientError', (error) => log.debug(`TLS: ${error.message}`));
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen({ host: options.listen.host === '' ? undefined : options.listen.host, port: options.listen.port }, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    server,
    address: { host: bound.address, port: bound.port },
    catalog: () => catalog.get(),
    passwordChecks: () => auth.checks,
    close: async () => {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      await accessLog?.close();
      await auth.close();
    },
  };
}

function lookup(res: ServerResponse, head: boolean, catalog: Catalog, name: string): Repository | undefined {
  if (!NAME.test(name)) {
    sendError(res, head, { status: 400, code: 'NAME_INVALID', message: `invalid repository name ${JSON.stringify(name)}` });
    return undefined;
  }
  const repository = catalog.repositories.get(name);
  if (repository === undefined) {
    sendError(res, head, { status: 404, code: 'NAME_UNKNOWN', message: `repository ${name} is not in this registry`, detail: { name } });
  }
  return repository;
}

/** One page of a sorted list (`n`, `last`), with the Link header to the next (distribution spec, "Listing"). */
function paginate(items: string[], url: URL, path: string): { page: string[]; headers: Record<string, string> } {
  const last = url.searchParams.get('last');
  const n = Number(url.searchParams.get('n') ?? items.length);
  const after = last === null ? items : items.filter((item) => item > last);
  const page = Number.isInteger(n) && n >= 0 ? after.slice(0, n) : after;
  const headers: Record<string, string> = {};
  if (page.length < after.length && page.length > 0) headers['link'] = `<${path}?last=${encodeURIComponent(page[page.length - 1]!)}&n=${n}>; rel="next"`;
  return { page, headers };
}

function serveCatalog(res: ServerResponse, head: boolean, catalog: Catalog, url: URL): void {
  const { page, headers } = paginate([...catalog.repositories.keys()].sort(), url, '/v2/_catalog');
  sendJson(res, head, { repositories: page }, headers);
}

function serveTags(res: ServerResponse, head: boolean, name: string, repository: Repository, url: URL): void {
  const { page, headers } = paginate([...repository.tags.keys()].sort(), url, `/v2/${name}/tags/list`);
  sendJson(res, head, { name, tags: page }, headers);
}

/**
 * Manifests from memory: read and verified once per digest, then served
 * without touching the disk (a digest names its bytes for good; a manifest
 * that leaves the layout also leaves the catalog, which is checked first).
 */
class ManifestCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  async get(layout: OciLayout, digest: string): Promise<Buffer> {
    const cached = this.entries.get(digest);
    if (cached !== undefined) return cached;
    const read = await layout.readBytes({ digest });
    while (this.bytes + read.length > this.maxBytes && this.entries.size > 0) {
      const [oldest, buffer] = this.entries.entries().next().value!;
      this.entries.delete(oldest);
      this.bytes -= buffer.length;
    }
    this.entries.set(digest, read);
    this.bytes += read.length;
    return read;
  }
}

async function serveManifest(res: ServerResponse, head: boolean, layout: OciLayout, repository: Repository, reference: string, manifests: ManifestCache): Promise<void> {
  let digest: string;
  let mediaType: string | undefined;
  const codeIfInvalid = reference.includes(':') ? 'DIGEST_INVALID' : 'TAG_INVALID';
  if (isDigest(reference)) {
    digest = reference;
    mediaType = repository.manifests.get(reference);
  } else if (TAG.test(reference)) {
    const descriptor = repository.tags.get(reference);
    digest = descriptor?.digest ?? '';
    mediaType = descriptor === undefined ? undefined : repository.manifests.get(descriptor.digest);
  } else {
    sendError(res, head, { status: 400, code: codeIfInvalid, message: `invalid reference ${JSON.stringify(reference)}` });
    return;
  }
  if (mediaType === undefined) {
    sendError(res, head, { status: 404, code: 'MANIFEST_UNKNOWN', message: `manifest ${reference} is not in this repository`, detail: { reference } });
    return;
  }
  let bytes: Buffer;
  try {
    // Verified when first read (readBytes checks the digest): a damaged layout must never serve wrong bytes under a digest.
    bytes = await manifests.get(layout, digest);
  } catch (error) {
    const missing = error instanceof AgError && error.kind === 'missing';
    sendError(res, head, {
      status: missing ? 404 : 500,
      code: missing ? 'MANIFEST_UNKNOWN' : 'UNKNOWN',
      message: missing ? `manifest ${reference} is no longer in the layout` : (error as Error).message,
      detail: { reference },
    });
    return;
  }
  res.writeHead(200, {
    'content-type': mediaType,
    'content-length': bytes.length,
    'docker-content-digest': digest,
    etag: `"${digest}"`,
  });
  res.end(head ? undefined : bytes);
}

async function serveBlob(req: IncomingMessage, res: ServerResponse, head: boolean, layout: OciLayout, repository: Repository, digest: string): Promise<void> {
  if (!isDigest(digest)) {
    sendError(res, head, { status: 400, code: 'DIGEST_INVALID', message: `invalid digest ${JSON.stringify(digest)}`, detail: { digest } });
    return;
  }
  if (!repository.blobs.has(digest) && !repository.manifests.has(digest)) {
    sendError(res, head, { status: 404, code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest } });
    return;
  }
  const path = layout.blobPath(digest);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    sendError(res, head, { status: 404, code: 'BLOB_UNKNOWN', message: 'blob unknown to registry (no longer in the layout)', detail: { digest } });
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'docker-content-digest': digest,
    'accept-ranges': 'bytes',
    etag: `"${digest}"`,
    'cache-control': 'max-age=31536000',
  };
  const range = parseRange(req.headers.range, size);
  if (range === null) {
    res.writeHead(416, { ...headers, 'content-range': `bytes */${size}`, 'content-length': 0 });
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  res.writeHead(range ? 206 : 200, {
    ...headers,
    'content-length': size === 0 ? 0 : end - start + 1,
    ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (head || size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(path, { start, end, highWaterMark: 1 << 20 });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
