import type { Dispatcher } from 'undici';
import { AgError, CredentialsError, MissingError, UnreachableError, VerificationError, withContext } from '../errors.js';
import { createHttpDispatcher, dispatchRequest } from './dispatcher.js';
import { credentialsFromUrl, headersForRedirect, isRedirectStatus, redirectTarget } from './redirect.js';
import { isRetryableStatus, parseRetryAfter, withRetry, type RetryEvent, type RetryPolicy } from './retry.js';

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that finally answered, after redirects. */
  url: string;
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
  /** Default 10, like curl's --max-redirs default of 50 scaled to sane. */
  maxRedirects?: number;
}

let sharedDispatcher: Promise<Dispatcher> | undefined;

/** A dispatcher built once from `process.env`, for callers that pass none. */
export function defaultDispatcher(): Promise<Dispatcher> {
  sharedDispatcher ??= createHttpDispatcher();
  return sharedDispatcher;
}

/**
 * One HTTP request that follows redirects itself, so that credentials are
 * scoped: Authorization and Cookie go only to the origin they were given for
 * (see `headersForRedirect`). `user:pass@` in the URL becomes a Basic
 * Authorization header under the same rule. Returns the final response with
 * its body unread; the caller must consume or dump it.
 *
 * Does not retry and does not judge the status: see `withRetry` and `statusError`.
 */
export async function requestFollowingRedirects(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const dispatcher = options.dispatcher ?? (await defaultDispatcher());
  const start = credentialsFromUrl(new URL(url));
  let current = start.url;
  let headers: Record<string, string> = { 'user-agent': 'ag', ...options.headers, ...start.headers };
  const maxRedirects = options.maxRedirects ?? 10;
  for (let hop = 0; ; hop += 1) {
    const response = await dispatchRequest(dispatcher, current, {
      method: options.method ?? 'GET',
      headers,
      signal: options.signal ?? null,
    });
    if (!isRedirectStatus(response.statusCode)) {
      return { statusCode: response.statusCode, headers: response.headers, body: response.body, url: current.href };
    }
    await response.body.dump();
    if (hop >= maxRedirects) {
      throw new UnreachableError(`${url}: more than ${maxRedirects} redirects`, { details: { retryable: false } });
    }
    const next = redirectTarget(current, response.headers['location']);
    headers = headersForRedirect(current, next, headers);
    current = next;
  }
}

/**
 * The AgError for an HTTP status that is not success: 404/410 are `missing`
 * (exit 5), 401/403/407 `credentials` (exit 8), everything else
 * `unreachable` (exit 4); 408, 429 and 5xx are
 * marked retryable, with the server's Retry-After when it sent one.
 */
export function statusError(url: string, response: Pick<HttpResponse, 'statusCode' | 'headers'>): AgError {
  const status = response.statusCode;
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  const details: Record<string, unknown> = { url, status, retryable: isRetryableStatus(status) };
  if (retryAfterMs !== undefined) details['retryAfterMs'] = retryAfterMs;
  if (status === 404 || status === 410) {
    return new MissingError(`${url}: ${status} ${status === 404 ? 'Not Found' : 'Gone'}`, {
      hint: 'check the version and architecture (upstream may not publish this file), or the mirror URL',
      details,
    });
  }
  if (status === 401 || status === 403 || status === 407) {
    // Exit 8 like a registry's refusal: the host answered; it is the credentials (or their absence) it refuses.
    return new CredentialsError(`${url}: ${status} ${status === 407 ? 'Proxy Authentication Required' : 'access refused'}`, {
      hint:
        status === 407
          ? 'the proxy wants credentials: put them in HTTPS_PROXY (http://user:pass@proxy:port)'
          : 'the host refused access: check credentials for the mirror, or whether a proxy rewrites the request',
      details,
    });
  }
  return new UnreachableError(`${url}: HTTP ${status}`, {
    hint: 'the host answered but failed; try again later or use a mirror',
    details,
  });
}

export interface FetchTextOptions extends RequestOptions {
  /** Refuse bodies larger than this (checksum files and indexes are small). Default 16 MiB. */
  maxBytes?: number;
  retry?: Partial<RetryPolicy>;
  onRetry?: (event: RetryEvent) => void;
}

/**
 * GETs a small resource (a `.sha256` file, a Helm index, a manifest) with
 * retries, redirects and the size cap; returns its bytes. For anything large
 * use `downloadFile`, which streams to disk.
 */
export async function fetchBytes(url: string, options: FetchTextOptions = {}): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  const retryOptions = {
    policy: options.retry ?? {},
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
  try {
    return await withRetry(async () => {
      const response = await requestFollowingRedirects(url, options);
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw statusError(url, response);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          response.body.destroy();
          throw new VerificationError(`${url}: larger than the ${maxBytes} bytes expected of it`, { details: { retryable: false } });
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    }, retryOptions);
  } catch (error) {
    if (error instanceof AgError) throw error;
    throw withContext(`fetching ${url}`, error);
  }
}

/** `fetchBytes`, decoded as UTF-8. */
export async function fetchText(url: string, options: FetchTextOptions = {}): Promise<string> {
  return (await fetchBytes(url, options)).toString('utf8');
}
