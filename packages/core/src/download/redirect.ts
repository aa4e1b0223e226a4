import { UnreachableError } from '../errors.js';

/** Headers that carry credentials: never sent to a host the operator did not name. */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie'];

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export function isRedirectStatus(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/** Whether two URLs share an origin (scheme, host and port), the unit credentials are scoped to. */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}

/**
 * Where a redirect leads: `location` resolved against the URL that answered.
 * Refuses anything but http(s) (a `file:` or `data:` target is never followed).
 */
export function redirectTarget(from: URL, location: string | string[] | undefined): URL {
  const text = Array.isArray(location) ? location[0] : location;
  if (text === undefined || text === '') {
    throw new UnreachableError(`${from.href} answered with a redirect but no Location header`, { details: { retryable: false } });
  }
  const target = new URL(text, from);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new UnreachableError(`${from.href} redirected to ${target.protocol} URL, which ag does not follow`, {
      details: { retryable: false },
    });
  }
  return target;
}

/**
 * The headers to send to a redirect's target: all of them on the same origin;
 * without Authorization, Proxy-Authorization and Cookie on another one
 * (as curl and browsers do), so a mirror's credentials never reach a CDN.
 */
export function headersForRedirect(from: URL, to: URL, headers: Record<string, string>): Record<string, string> {
  if (sameOrigin(from, to)) return { ...headers };
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.includes(name.toLowerCase())) kept[name] = value;
  }
  return kept;
}

/**
 * Moves `user:password@` out of a URL into an Authorization header (Basic),
 * so it is scoped like any other credential and never logged or redirected.
 */
export function credentialsFromUrl(url: URL): { url: URL; headers: Record<string, string> } {
  if (url.username === '' && url.password === '') return { url, headers: {} };
  const clean = new URL(url.href);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  clean.username = '';
  clean.password = '';
  return { url: clean, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } };
}
