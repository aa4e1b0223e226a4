import {
  AgError,
  MissingError,
  requestFollowingRedirects,
  statusError,
  UnreachableError,
  withContext,
  withRetry,
  type Logger,
} from '@ag/core';
import type { Dispatcher } from 'undici';
import { mirrorUrl, type Mirrors } from '../../mirrors.js';
import { createEtagCache, type EtagCache } from './etag-cache.js';

/** The fields ag reads of a GitHub release (REST API "Get the latest release" / "List releases", API version 2022-11-28). */
export interface GitHubRelease {
  tag_name: string;
  draft: boolean;
  prerelease: boolean;
  published_at: string | null;
  html_url: string;
}

/** What a release listing answered, and how (for the document). */
export interface ListingAnswer<T> {
  value: T;
  /** The upstream API URL asked. */
  url: string;
  /** True when GitHub answered 304 Not Modified and the cached copy was used. */
  notModified: boolean;
}

export interface ReleaseListings {
  /** `GET /repos/{owner}/{repo}/releases/latest`: the newest release that is neither a draft nor a pre-release. */
  latest(repo: string): Promise<ListingAnswer<GitHubRelease>>;
  /** `GET /repos/{owner}/{repo}/releases` (newest first, up to `pages` pages of 100). */
  list(repo: string, pages?: number): Promise<ListingAnswer<GitHubRelease[]>>;
}

export interface GitHubReleasesOptions {
  mirrors: Mirrors;
  dispatcher?: Dispatcher | undefined;
  /** GITHUB_TOKEN: sent to api.github.com, or to a mirror named for api.github.com with --mirror, never to a catch-all --mirror URL. */
  token?: string | undefined;
  /** Where answers and their ETags are kept between runs (conditional requests: a 304 costs no rate limit when authenticated); none: this run only. */
  cacheDir?: string | undefined;
  log: Logger;
  now?: () => number;
}

export const GITHUB_API = 'https://api.github.com';

const RATE_HINT =
  'set GITHUB_TOKEN (authenticated requests get 5,000 an hour instead of 60), wait until the reset, pin the versions with --component NAME=VERSION, or plan a Kubernetes minor the table knows';

/** "resets at 2026-12-02T18:00:00Z (in 12 min)" from X-RateLimit-Reset (UTC epoch seconds) or Retry-After (seconds). */
function whenAgain(headers: Record<string, string | string[] | undefined>, now: number): string {
  const retryAfter = Number(headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return `retry after ${retryAfter} s`;
  const reset = Number(headers['x-ratelimit-reset']);
  if (!Number.isFinite(reset) || reset <= 0) return 'reset time not given';
  const minutes = Math.max(0, Math.ceil((reset * 1000 - now) / 60_000));
  return `resets at ${new Date(reset * 1000).toISOString()} (in ${minutes} min)`;
}

/**
 * GitHub answers a used-up primary rate limit with 403 or 429 and
 * `x-ratelimit-remaining: 0`, a secondary limit with 403 or 429 and
 * `retry-after` (docs.github.com, REST API "Rate limits for the REST API").
 * Both are exit 4 with the time it may work again; ag does not sleep for an hour.
 */
function rateLimitError(url: string, status: number, headers: Record<string, string | string[] | undefined>, now: number): AgError | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const remaining = headers['x-ratelimit-remaining'];
  if (remaining === '0') {
    const limit = headers['x-ratelimit-limit'];
    return new UnreachableError(`${url}: GitHub's API rate limit is used up (0 of ${String(limit ?? '?')} requests left; ${whenAgain(headers, now)})`, {
      hint: RATE_HINT,
      details: { url, status, retryable: false },
    });
  }
  if (headers['retry-after'] !== undefined) {
    return new UnreachableError(`${url}: GitHub's secondary rate limit refused the request (${whenAgain(headers, now)})`, {
      hint: RATE_HINT,
      details: { url, status, retryable: false },
    });
  }
  return undefined;
}

/** The `rel="next"` URL of a Link header, if any. */
function nextLink(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(',') : header;
  return text?.split(',').map((part) => /<([^>]+)>\s*;\s*rel="next"/.exec(part)?.[1]).find((link) => link !== undefined);
}

/** True when requests to `upstream` go to api.github.com itself or to a mirror configured for that host by name. */
function tokenAllowed(upstream: string, mirrors: Mirrors): boolean {
  const host = new URL(upstream).host;
  return mirrorUrl(upstream, mirrors) === upstream || mirrors.hosts[host] !== undefined;
}

/**
 * GitHub's releases API as ag-fetch reads it: `Accept: application/vnd.github+json`,
 * `X-GitHub-Api-Version: 2022-11-28`, `Authorization: Bearer $GITHUB_TOKEN` when
 * set, `If-None-Match` with the ETag of the cached answer (304: the cached body
 * is used), rate limits reported with exit 4, 5xx retried.
 */
export function createGitHubReleases(options: GitHubReleasesOptions): ReleaseListings {
  const cache: EtagCache = createEtagCache(options.cacheDir);
  const now = options.now ?? Date.now;

  async function get(upstream: string): Promise<{ body: unknown; next: string | undefined; notModified: boolean }> {
    const url = mirrorUrl(upstream, options.mirrors);
    const cached = await cache.read(upstream);
    const headers: Record<string, string> = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      ...(cached !== undefined ? { 'if-none-match': cached.etag } : {}),
      ...(options.token && tokenAllowed(upstream, options.mirrors) ? { authorization: `Bearer ${options.token}` } : {}),
    };
    options.log.debug(`asking ${url}${cached ? ' (conditional)' : ''}`);
    return withRetry(
      async () => {
        const response = await requestFollowingRedirects(url, { headers, ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}) });
        const limited = rateLimitError(url, response.statusCode, response.headers, now());
        if (response.statusCode === 304 && cached !== undefined) {
          await response.body.dump();
          return { body: JSON.parse(cached.body) as unknown, next: cached.next, notModified: true };
        }
        if (response.statusCode !== 200) {
          await response.body.dump();
          if (limited !== undefined) throw limited;
          if (response.statusCode === 404) throw new MissingError(`${url}: 404 Not Found (no such repository, or no published release)`, { details: { url, status: 404, retryable: false } });
          throw statusError(url, response);
        }
        const text = await response.body.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new UnreachableError(`${url}: the answer is not JSON (${text.slice(0, 60)})`, { hint: 'check the mirror for api.github.com', details: { retryable: false } });
        }
        const next = nextLink(response.headers['link']);
        const etag = response.headers['etag'];
        if (typeof etag === 'string') await cache.write(upstream, { etag, body: text, ...(next ? { next } : {}) });
        return { body, next, notModified: false };
      },
      { onRetry: (event) => options.log.warn(`${event.error.message}; retrying in ${Math.ceil(event.delayMs / 100) / 10} s`) },
    );
  }

  function asRelease(value: unknown, url: string): GitHubRelease {
    const release = value as Partial<GitHubRelease> | null;
    if (release === null || typeof release !== 'object' || typeof release.tag_name !== 'string') {
      throw new UnreachableError(`${url}: not a GitHub release object (no tag_name)`, { hint: 'check the mirror for api.github.com' });
    }
    return {
      tag_name: release.tag_name,
      draft: release.draft === true,
      prerelease: release.prerelease === true,
      published_at: typeof release.published_at === 'string' ? release.published_at : null,
      html_url: typeof release.html_url === 'string' ? release.html_url : '',
    };
  }

  return {
    async latest(repo) {
      const url = `${GITHUB_API}/repos/${repo}/releases/latest`;
      try {
        const answer = await get(url);
        return { value: asRelease(answer.body, url), url, notModified: answer.notModified };
      } catch (error) {
        throw withContext(`reading the latest release of ${repo}`, error);
      }
    },
    async list(repo, pages = 3) {
      const first = `${GITHUB_API}/repos/${repo}/releases?per_page=100`;
      const releases: GitHubRelease[] = [];
      let notModified = true;
      try {
        let url: string | undefined = first;
        for (let page = 0; url !== undefined && page < pages; page += 1) {
          const answer = await get(url);
          if (!Array.isArray(answer.body)) throw new UnreachableError(`${url}: not a list of releases`, { hint: 'check the mirror for api.github.com' });
          releases.push(...answer.body.map((item) => asRelease(item, url!)));
          notModified &&= answer.notModified;
          // The Link header names upstream URLs; follow them through the mirror like the first.
          url = answer.next;
        }
      } catch (error) {
        throw withContext(`listing the releases of ${repo}`, error);
      }
      return { value: releases, url: first, notModified };
    },
  };
}
