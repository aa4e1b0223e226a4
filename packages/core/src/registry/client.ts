import { Transform, type Readable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { UsageError, VerificationError, UnreachableError, type AgError } from '../errors.js';
import { headersForRedirect, isRedirectStatus, redirectTarget } from '../download/redirect.js';
import { DEFAULT_RETRY_POLICY, withRetry, type RetryEvent, type RetryPolicy } from '../download/retry.js';
import { registryApiHost } from '../reference.js';
import type { BlobWriter } from '../oci/blob-writer.js';
import { isDigest, sha256Digest, type Descriptor } from '../oci/descriptor.js';
import { MAX_MANIFEST_BYTES } from '../oci/manifest.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { credentialFiles, findCredentials, type Credentials } from './credentials.js';
import { credentialsError, networkError, registryStatusError, type CredentialsUsed } from './errors.js';
import { createTlsDispatcher, tlsFor, type TlsSettings } from './tls.js';
import { dispatchRequest } from '../download/dispatcher.js';

export interface RegistryClientOptions extends TlsSettings {
  /** The registry as references name it: `docker.io`, `registry.k8s.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Credentials given on the command line; otherwise they are looked up (see findCredentials). */
  credentials?: Omit<Credentials, 'source'> & { source?: string };
  /** Look credentials up in the auth files when none are given (default true). */
  lookupCredentials?: boolean;
  /** Speak plain HTTP (only when the operator asks: `--plain-http`). */
  plainHttp?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Called before each retry wait (for a log line). */
  onRetry?: (event: RetryEvent & { doing: string }) => void;
  userAgent?: string;
  signal?: AbortSignal;
}

/** A manifest or index as a registry served it: the exact bytes and their digest. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

type Body = string | Buffer | Readable | null;

interface SendRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path on the registry (`/v2/…`) or an absolute URL (an upload location, a foreign layer). */
  target: string;
  /** Token scopes this request needs (`repository:library/x:pull`). */
  scopes?: string[];
  headers?: Record<string, string>;
  body?: Body;
  doing: string;
}

interface Response {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: URL;
}

function header(headers: Response['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readText(body: Dispatcher.ResponseData['body'], max = 64 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    if (text.length < max) text += (chunk as Buffer).toString('utf8');
  }
  return text.slice(0, max);
}

/** A manifest's or index's bytes, refusing more than MAX_MANIFEST_BYTES. */
async function readManifestBody(body: Dispatcher.ResponseData['body'], doing: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_MANIFEST_BYTES) {
      body.destroy();
      throw new VerificationError(`${doing}: more than ${MAX_MANIFEST_BYTES} bytes, too large for a manifest`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A pass-through that reports bytes as they flow (upload progress). */
function counting(onBytes: ((count: number) => void) | undefined): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes?.(chunk.length);
      callback(null, chunk);
    },
  });
}

/**
 * A client for one registry, speaking the OCI distribution spec
 * (distribution-spec spec.md) over undici: manifests by tag or digest, blobs
 * streamed with resume, existence checks, cross-repository mounts and
 * monolithic streamed uploads.
 *
 * Authentication follows the registry's challenge: anonymous or credentialed
 * Bearer tokens (docker.io, ghcr.io, distribution's token auth) cached per
 * scope, or Basic. Credentials are sent only to the registry's own origin and
 * to the token realm it names, never to a host a redirect leads to (blob
 * downloads from registry.k8s.io end on another host).
 *
 * Every operation retries network failures, 429 and 5xx with back-off
 * (honouring Retry-After); blob downloads resume with Range from the bytes
 * already written. Content is verified: manifests against their digest,
 * blobs by the BlobWriter they stream into.
 *
 * Not here: which platforms to keep, where blobs go, what to skip; see
 * ag-images for those decisions.
 */
export class RegistryClient {
  readonly registry: string;
  private readonly origin: URL;
  private readonly options: RegistryClientOptions;
  private readonly env: Record<string, string | undefined>;
  private readonly dispatchers = new Map<string, Promise<Dispatcher>>();
  private credentials: Promise<Credentials | undefined> | undefined;
  private scheme: 'basic' | 'bearer' | undefined;
  private bearer: { realm: string; service: string | undefined } | undefined;
  private readonly tokens = new Map<string, { value: string; expiresAt: number }>();
  private readonly pendingTokens = new Map<string, Promise<string>>();

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.options = options;
    this.env = options.env ?? {};
    this.origin = new URL(`${options.plainHttp ? 'http' : 'https'}://${registryApiHost(options.registry)}`);
  }

  /** `https://host[:port]`, where the API is. */
  get baseUrl(): string {
    return this.origin.origin;
  }

  /** Releases the connection pools. */
  async close(): Promise<void> {
    const all = [...this.dispatchers.values()];
    this.dispatchers.clear();
    await Promise.all(all.map(async (d) => (await d).close().catch(() => undefined)));
  }

  // ---- the API -------------------------------------------------------------------------------

  /**
   * `GET /v2/`: checks the registry answers and speaks the distribution API,
   * authenticating if it asks. Returns the scheme it asked for.
   */
  async ping(): Promise<{ auth: 'none' | 'basic' | 'bearer' }> {
    await this.retrying(`contacting ${this.registry}`, async (doing) => {
      const response = await this.send({ method: 'GET', target: '/v2/', doing });
      const text = await readText(response.body);
      if (response.statusCode !== 200) throw await this.statusError(doing, response.statusCode, response.headers, text);
    });
    return { auth: this.scheme ?? 'none' };
  }

  /**
   * Fetches a manifest or index by tag or digest, as its exact bytes, checked
   * against the digest asked for (or the one the registry names). Refuses more
   * than MAX_MANIFEST_BYTES.
   */
  async getManifest(repository: string, reference: string, accept: string = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    return this.retrying(`fetching the manifest ${this.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`, async (doing) => {
      const response = await this.send({
        method: 'GET',
        target: `/v2/${repository}/manifests/${reference}`,
        scopes: [`repository:${repository}:pull`],
        headers: { accept },
        doing,
      });
      if (response.statusCode !== 200) {
        throw await this.statusError(doing, response.statusCode, response.headers, await readText(response.body));
      }
      const length = Number(header(response.headers, 'content-length') ?? '0');
      if (length > MAX_MANIFEST_BYTES) {
        response.body.destroy();
        throw new VerificationError(`${doing}: ${length} bytes is more than a manifest may have (${MAX_MANIFEST_BYTES})`);
      }
      const bytes = await readManifestBody(response.body, doing);
      const digest = sha256Digest(bytes);
      const named = isDigest(reference) ? reference : header(response.headers, 'docker-content-digest');
      if (named !== undefined && isDigest(named) && named !== digest) {
        throw new VerificationError(`${doing}: the registry served content hashing to ${digest}, not ${named}`, {
          details: { digest: named, actualDigest: digest },
          hint: 'the registry (or something between it and ag) serves wrong content; do not use this image',
        });
      }
      const contentType = (header(response.headers, 'content-type') ?? '').split(';')[0]!.trim();
      let mediaType = contentType;
      try {
        const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
        if (typeof declared === 'string') mediaType = declared;
      } catch {
        throw new VerificationError(`${doing}: the manifest is not JSON`);
      }
      return { bytes, mediaType, digest };
    });
  }

  /** `HEAD` a manifest: its descriptor, or undefined when the registry does not have it. */
  async headManifest(repository: string, reference: string): Promise<Descriptor | undefined> {
    return this.retrying(`checking ${this.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`, async (doing) => {
      const response = await this.send({
        method: 'HEAD',
        target: `/v2/${repository}/manifests/${reference}`,
        scopes: [`repository:${repository}:pull`],
        headers: { accept: MANIFEST_ACCEPT },
        doing,
      });
      await response.body.dump();
      if (response.statusCode === 404) return undefined;
      if (response.statusCode !== 200) throw await this.statusError(doing, response.statusCode, response.headers, '');
      const digest = header(response.headers, 'docker-content-digest');
      if (digest === undefined || !isDigest(digest)) return undefined;
      return {
        digest,
        mediaType: (header(response.headers, 'content-type') ?? '').split(';')[0]!.trim(),
        size: Number(header(response.headers, 'content-length') ?? '0'),
      };
    });
  }

  /** `HEAD` a blob: whether the repository has it (with the expected size). */
  async hasBlob(repository: string, blob: { digest: string; size?: number }, scopes?: string[]): Promise<boolean> {
    return this.retrying(`checking blob ${blob.digest} in ${this.registry}/${repository}`, async (doing) => {
      const response = await this.send({
        method: 'HEAD',
        target: `/v2/${repository}/blobs/${blob.digest}`,
        scopes: scopes ?? [`repository:${repository}:pull`],
        doing,
      });
      await response.body.dump();
      if (response.statusCode === 404) return false;
      if (response.statusCode !== 200) throw await this.statusError(doing, response.statusCode, response.headers, '');
      const length = header(response.headers, 'content-length');
      return blob.size === undefined || length === undefined || Number(length) === blob.size;
    });
  }

  /**
   * Streams a blob into `writer`, resuming with Range after a broken
   * connection, and commits it (the writer checks size and digest). The
   * registry may redirect the download to another host (a CDN); no
   * credentials follow it there.
   */
  async fetchBlob(repository: string, blob: Descriptor, writer: BlobWriter, onBytes?: (count: number) => void): Promise<void> {
    await this.downloadInto(
      { target: `/v2/${repository}/blobs/${blob.digest}`, scopes: [`repository:${repository}:pull`] },
      `fetching blob ${blob.digest} from ${this.registry}/${repository}`,
      blob,
      writer,
      onBytes,
    );
  }

  /**
   * A small blob's bytes (an image config), verified against its digest and
   * size; refuses more than `maxBytes`. For anything large use fetchBlob.
   */
  async getBlobBytes(repository: string, blob: Descriptor, maxBytes = MAX_MANIFEST_BYTES): Promise<Buffer> {
    if (blob.size > maxBytes) throw new VerificationError(`blob ${blob.digest} is ${blob.size} bytes, more than the ${maxBytes} expected of it`);
    return this.retrying(`fetching blob ${blob.digest} from ${this.registry}/${repository}`, async (doing) => {
      const response = await this.send({ method: 'GET', target: `/v2/${repository}/blobs/${blob.digest}`, scopes: [`repository:${repository}:pull`], doing });
      if (response.statusCode !== 200) {
        throw await this.statusError(doing, response.statusCode, response.headers, await readText(response.body));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of response.body) {
          size += (chunk as Buffer).length;
          if (size > blob.size) break;
          chunks.push(chunk as Buffer);
        }
      } catch (error) {
        throw networkError(doing, error, response.url.host);
      }
      if (size > blob.size) response.body.destroy();
      const bytes = Buffer.concat(chunks);
      const digest = sha256Digest(bytes);
      if (digest !== blob.digest || size !== blob.size) {
        throw new VerificationError(`${doing}: the registry served ${size} bytes hashing to ${digest}`, {
          details: { digest: blob.digest, actualDigest: digest },
          hint: 'the registry (or something between it and ag) serves wrong content; do not use this image',
        });
      }
      return bytes;
    });
  }

  /**
   * Streams a non-distributable layer from one of its `urls` into `writer`
   * (tried in order), without registry credentials, verified like any blob.
   */
  async fetchUrl(urls: string[], blob: Descriptor, writer: BlobWriter, onBytes?: (count: number) => void): Promise<void> {
    let last: unknown;
    for (const url of urls) {
      const parsed = new URL(url);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') continue;
      try {
        await this.downloadInto({ target: url }, `fetching foreign layer ${blob.digest} from ${url}`, blob, writer, onBytes);
        return;
      } catch (error) {
        if (error instanceof VerificationError) throw error;
        last = error;
      }
    }
    throw last ?? new UsageError(`foreign layer ${blob.digest} has no http(s) URL to fetch it from`);
  }

  /**
   * Starts an upload, trying first to mount the blob from `mountFrom` (a
   * repository on the same registry that has it). Returns `mounted` when the
   * registry linked it (nothing to send), or the upload location otherwise.
   */
  async startUpload(repository: string, digest: string, mountFrom?: string): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    return this.retrying(`starting an upload of ${digest} to ${this.registry}/${repository}`, (doing) =>
      this.startUploadOnce(repository, digest, mountFrom, doing),
    );
  }

  private async startUploadOnce(
    repository: string,
    digest: string,
    mountFrom: string | undefined,
    doing: string,
  ): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const mounting = mountFrom !== undefined && mountFrom !== repository;
    const scopes = [`repository:${repository}:pull,push`];
    if (mounting) scopes.push(`repository:${mountFrom}:pull`);
    const query = mounting ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}` : '';
    const response = await this.send({
      method: 'POST',
      target: `/v2/${repository}/blobs/uploads/${query}`,
      scopes,
      headers: { 'content-length': '0' },
      body: null,
      doing,
    });
    const text = await readText(response.body);
    if (response.statusCode === 201 && mounting) return { mounted: true };
    if (response.statusCode !== 202) throw await this.statusError(doing, response.statusCode, response.headers, text);
    const location = header(response.headers, 'location');
    if (location === undefined) throw new UnreachableError(`${doing}: the registry gave no upload location`);
    return { mounted: false, location: new URL(location, response.url) };
  }

  /**
   * Uploads a blob in one streamed PUT (the "monolithic" upload of the
   * distribution spec, with the body streamed rather than buffered), after a
   * mount attempt when `mountFrom` is given. `open` is called for each attempt
   * and must return a fresh stream of the blob's bytes.
   * Returns whether the blob was mounted rather than sent.
   */
  async pushBlob(
    repository: string,
    blob: Descriptor,
    open: () => Promise<Readable>,
    options: { mountFrom?: string; onBytes?: (count: number) => void } = {},
  ): Promise<{ mounted: boolean }> {
    let mountFrom = options.mountFrom;
    return this.retrying(`pushing blob ${blob.digest} to ${this.registry}/${repository}`, async (doing) => {
      const started = await this.startUploadOnce(repository, blob.digest, mountFrom, doing);
      if (started.mounted) return { mounted: true };
      // A refused mount is not retried: the registry said no once.
      mountFrom = undefined;
      const location = started.location;
      location.searchParams.set('digest', blob.digest);
      const source = await open();
      const body = source.pipe(counting(options.onBytes));
      source.on('error', (error) => body.destroy(error));
      const response = await this.send({
        method: 'PUT',
        target: location.href,
        scopes: [`repository:${repository}:pull,push`],
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        body,
        doing,
      });
      const text = await readText(response.body);
      if (response.statusCode !== 201) throw await this.statusError(doing, response.statusCode, response.headers, text);
      return { mounted: false };
    });
  }

  /**
   * Pushes a manifest or index under a tag or its digest, checking that the
   * registry stored it under the digest of the bytes sent.
   */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    return (await this.putManifestReporting(repository, reference, bytes, mediaType)).digest;
  }

  /**
   * putManifest, also reporting the `OCI-Subject` header: a registry with the
   * referrers API answers it when it indexed the manifest's `subject`
   * (distribution-spec 1.1, "Pushing Manifests with Subject"); without it the
   * client must maintain the referrers tag itself.
   */
  async putManifestReporting(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<{ digest: string; subject: string | undefined }> {
    const digest = sha256Digest(bytes);
    return this.retrying(`pushing the manifest ${this.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}`, async (doing) => {
      const response = await this.send({
        method: 'PUT',
        target: `/v2/${repository}/manifests/${reference}`,
        scopes: [`repository:${repository}:pull,push`],
        headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
        body: bytes,
        doing,
      });
      const text = await readText(response.body);
      if (response.statusCode !== 201 && response.statusCode !== 200) {
        throw await this.statusError(doing, response.statusCode, response.headers, text);
      }
      const stored = header(response.headers, 'docker-content-digest');
      if (stored !== undefined && stored !== digest) {
        throw new VerificationError(`${doing}: the registry stored it as ${stored}, not ${digest}`, {
          hint: 'the registry rewrote the manifest; pushing by digest would not find it',
        });
      }
      return { digest, subject: header(response.headers, 'oci-subject') };
    });
  }

  /**
   * One page of `GET /v2/<name>/referrers/<digest>` (distribution-spec 1.1,
   * "Listing Referrers"): the image index's bytes and the next page's URL (from
   * a `Link: <…>; rel="next"` header), or undefined when the registry answers
   * 404, that is, has no referrers API (distribution 2.x). `page` is the next
   * page's URL from an earlier answer.
   */
  async getReferrersPage(repository: string, digest: string, page?: string): Promise<{ bytes: Buffer; next: string | undefined } | undefined> {
    return this.retrying(`listing the referrers of ${this.registry}/${repository}@${digest}`, async (doing) => {
      const response = await this.send({
        method: 'GET',
        target: page ?? `/v2/${repository}/referrers/${digest}`,
        scopes: [`repository:${repository}:pull`],
        headers: { accept: 'application/vnd.oci.image.index.v1+json' },
        doing,
      });
      if (response.statusCode === 404) {
        await response.body.dump();
        return undefined;
      }
      if (response.statusCode !== 200) throw await this.statusError(doing, response.statusCode, response.headers, await readText(response.body));
      const bytes = await readManifestBody(response.body, doing);
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(response.headers, 'link') ?? '');
      return { bytes, next: link === null ? undefined : new URL(link[1]!, response.url).href };
    });
  }

  // ---- transport --------------------------------------------------------------------------------

  /**
   * The error for an unexpected status; a refusal (401, 403) names the
   * credentials sent and where they came from, or where none were found.
   * A response from another host (a foreign layer's URL) got no credentials.
   */
  private async statusError(doing: string, status: number, headers: Response['headers'], text: string, url?: URL): Promise<AgError> {
    if (url !== undefined && url.origin !== this.origin.origin) return registryStatusError(doing, status, headers, text, url.host);
    const used = status === 401 || status === 403 ? await this.credentialsUsed() : undefined;
    return registryStatusError(doing, status, headers, text, this.registry, used);
  }

  /** What a refused request carried: the credentials and their source, or where none were found. */
  private async credentialsUsed(): Promise<CredentialsUsed> {
    const credentials = await this.loadCredentials(undefined).catch(() => undefined);
    if (credentials !== undefined) return { username: credentials.username, source: credentials.source };
    return { none: true, searched: this.options.lookupCredentials === false ? [] : credentialFiles(this.env) };
  }

  private retrying<T>(doing: string, operation: (doing: string) => Promise<T>): Promise<T> {
    const policy = { ...DEFAULT_RETRY_POLICY, ...this.options.retry };
    return withRetry(() => operation(doing), {
      policy,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      onRetry: (event) => this.options.onRetry?.({ ...event, doing }),
    });
  }

  private async downloadInto(
    request: { target: string; scopes?: string[] },
    doing: string,
    blob: Descriptor,
    writer: BlobWriter,
    onBytes?: (count: number) => void,
  ): Promise<void> {
    await this.retrying(doing, async () => {
      if (writer.written === blob.size) return;
      const offset = writer.written;
      const response = await this.send({
        method: 'GET',
        target: request.target,
        ...(request.scopes ? { scopes: request.scopes } : {}),
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        doing,
      });
      if (response.statusCode === 206) {
        const range = /^bytes (\d+)-/.exec(header(response.headers, 'content-range') ?? '');
        if (range === null || Number(range[1]) !== offset) {
          // A range we did not ask for: start again from zero rather than guess.
          await response.body.dump();
          writer.reset();
          throw new UnreachableError(`${doing}: the server answered a different range than asked for`, { details: { retryable: true } });
        }
      } else if (response.statusCode === 200) {
        if (offset > 0) writer.reset();
      } else {
        throw await this.statusError(doing, response.statusCode, response.headers, await readText(response.body), response.url);
      }
      try {
        await writer.appendBody(response.body, onBytes);
      } catch (error) {
        response.body.destroy();
        throw networkError(doing, error, response.url.host);
      }
    });
    await writer.commit();
  }

  private dispatcherFor(url: URL): Promise<Dispatcher> {
    const key = url.origin;
    let dispatcher = this.dispatchers.get(key);
    if (dispatcher === undefined) {
      dispatcher = (async () => {
        // certs.d may name the registry as references do (docker.io) or by its API host.
        const names = url.origin === this.origin.origin && url.host !== this.registry ? [url.host, this.registry] : [url.host];
        const tls = url.protocol === 'https:' ? await tlsFor(names, this.options) : undefined;
        return createTlsDispatcher(tls, this.env);
      })();
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  /**
   * One request with authentication and redirects: the Authorization header
   * goes to the registry's origin only; GET and HEAD follow redirects
   * (dropping credentials on another origin); a 401 is answered once by
   * authenticating as the challenge asks, then the request is sent again
   * (a streamed body cannot be sent twice: that case throws a retryable error
   * so the caller starts over with a fresh stream).
   */
  private async send(request: SendRequest): Promise<Response> {
    const start = new URL(request.target, this.origin);
    const replayable = !(request.body !== null && request.body !== undefined && typeof request.body === 'object' && 'pipe' in request.body);
    for (let authAttempt = 0; ; authAttempt += 1) {
      let url = start;
      let headers: Record<string, string> = { 'user-agent': this.options.userAgent ?? 'ag', ...request.headers };
      if (url.origin === this.origin.origin) {
        const authorization = await this.authorization(request.scopes ?? []);
        if (authorization !== undefined) headers['authorization'] = authorization;
      }
      let response: Dispatcher.ResponseData;
      for (let hop = 0; ; hop += 1) {
        try {
          response = await dispatchRequest(await this.dispatcherFor(url), url, {
            method: request.method,
            headers,
            body: request.body ?? null,
            signal: this.options.signal ?? null,
          });
        } catch (error) {
          throw networkError(request.doing, error, url.host);
        }
        if (!isRedirectStatus(response.statusCode) || (request.method !== 'GET' && request.method !== 'HEAD')) break;
        await response.body.dump();
        if (hop >= 10) throw new UnreachableError(`${request.doing}: more than 10 redirects`, { details: { retryable: false } });
        const next = redirectTarget(url, response.headers['location']);
        // A redirect to another origin (a CDN, maybe plain HTTP) gets no credentials; what it serves is
        // checked against the digest anyway.
        headers = headersForRedirect(url, next, headers);
        url = next;
      }
      if (response.statusCode === 401 && authAttempt === 0 && url.origin === this.origin.origin) {
        const challenges = parseChallenges(response.headers['www-authenticate']);
        await response.body.dump();
        // undici hands the connection back to its pool a turn of the event loop after the body ends; asking
        // again before that opened a second connection (another TLS handshake) on every run.
        await yieldToEventLoop();
        if (await this.authenticate(challenges, request.scopes ?? [], request.doing, headers['authorization'] !== undefined)) {
          if (replayable) continue;
          throw new UnreachableError(`${request.doing}: the registry asked to authenticate again`, { details: { retryable: true } });
        }
        return { statusCode: 401, headers: response.headers, body: response.body, url };
      }
      return { statusCode: response.statusCode, headers: response.headers, body: response.body, url };
    }
  }

  private loadCredentials(repository: string | undefined): Promise<Credentials | undefined> {
    if (this.options.credentials !== undefined) {
      return Promise.resolve({ source: 'the command line', ...this.options.credentials });
    }
    if (this.options.lookupCredentials === false) return Promise.resolve(undefined);
    this.credentials ??= findCredentials(this.registry, repository, this.env);
    return this.credentials;
  }

  /** The Authorization header for a request needing `scopes`, once the registry's scheme is known. */
  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (this.scheme === 'basic') {
      const credentials = await this.loadCredentials(undefined);
      return credentials === undefined ? undefined : `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    if (this.scheme === 'bearer') return `Bearer ${await this.token(scopes, 'requesting a token')}`;
    return undefined;
  }

  /** Learns the scheme from a 401's challenges; returns whether sending again can help. */
  private async authenticate(challenges: Challenge[], scopes: string[], doing: string, sentAuthorization: boolean): Promise<boolean> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined && bearer.params['realm']) {
      this.scheme = 'bearer';
      this.bearer = { realm: bearer.params['realm'], service: bearer.params['service'] };
      const wanted = scopes.length > 0 ? scopes : bearer.params['scope'] ? bearer.params['scope'].split(' ') : [];
      // A token we sent was refused (expired early, say): forget it and ask again.
      if (sentAuthorization) this.tokens.delete(wanted.join(' '));
      await this.token(wanted, doing);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      const credentials = await this.loadCredentials(undefined);
      if (credentials === undefined) throw credentialsError(doing, this.registry, 401, await this.credentialsUsed());
      this.scheme = 'basic';
      // Sent without credentials (before the scheme was known): send them now; sent with them: they are wrong.
      return !sentAuthorization;
    }
    return false;
  }

  /** A Bearer token for `scopes`: cached until shortly before it expires; one request per scope at a time. */
  private async token(scopes: string[], doing: string): Promise<string> {
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return cached.value;
    let pending = this.pendingTokens.get(key);
    if (pending === undefined) {
      pending = this.fetchToken(scopes, doing).finally(() => this.pendingTokens.delete(key));
      this.pendingTokens.set(key, pending);
    }
    return pending;
  }

  private async fetchToken(scopes: string[], doing: string): Promise<string> {
    const bearer = this.bearer!;
    const url = new URL(bearer.realm);
    if (url.protocol !== 'https:' && !this.options.plainHttp) {
      throw new UnreachableError(`${doing}: the token service ${url.origin} is not HTTPS`, { hint: 'pass --plain-http if that is really intended' });
    }
    if (bearer.service !== undefined) url.searchParams.set('service', bearer.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const repository = /^repository:([^:]+):/.exec(scopes[0] ?? '')?.[1];
    const credentials = await this.loadCredentials(repository);
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent ?? 'ag' };
    if (credentials !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    const what = `${doing}: getting a token from ${url.origin}${url.pathname}`;
    const body = await this.retrying(what, async () => {
      let response: Dispatcher.ResponseData;
      try {
        response = await dispatchRequest(await this.dispatcherFor(url), url, { method: 'GET', headers, signal: this.options.signal ?? null });
      } catch (error) {
        throw networkError(what, error, url.host);
      }
      const text = await readText(response.body, 1024 * 1024);
      if (response.statusCode !== 200) throw await this.statusError(what, response.statusCode, response.headers, text);
      return text;
    });
    let parsed: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new UnreachableError(`${what}: the answer is not JSON`);
    }
    const value = parsed.token ?? parsed.access_token;
    if (!value) throw new UnreachableError(`${what}: the answer holds no token`);
    // The spec's default lifetime is 60 s; renew 10 s early so a token never expires mid-request.
    const lifetime = Math.max(10, (parsed.expires_in ?? 60) - 10) * 1000;
    this.tokens.set(scopes.join(' '), { value, expiresAt: Date.now() + lifetime });
    return value;
  }
}
