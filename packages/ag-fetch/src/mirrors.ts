import { parseMirrorFlag, UsageError, type MirrorFlag } from '@ag/core';

/**
 * Where to fetch what upstream publishes: `https://dl.k8s.io/x` stays as it
 * is, or goes to a mirror. A per-host mirror (`--mirror dl.k8s.io=URL`) maps
 * `https://dl.k8s.io/PATH` to `URL/PATH`; a mirror for every host (`--mirror URL`)
 * maps each to `URL/<host>/PATH` (one internal server holding a
 * directory per upstream host, which is also how the test fixtures lay it out).
 */
export interface Mirrors {
  hosts: Record<string, string>;
  base?: string | undefined;
}

export const NO_MIRRORS: Mirrors = { hosts: {} };

function urlOf(flag: MirrorFlag): string {
  return `${flag.scheme ?? 'https'}://${flag.host}${flag.path === undefined ? '' : `/${flag.path}`}`;
}

/**
 * Parses `--mirror` values (core's one syntax, parseMirrorFlag): `HOST=URL`
 * for one upstream host, a bare URL for every host. `base` is a bare URL
 * given apart (the retired `--mirror-base`).
 */
export function parseMirrors(flags: readonly string[] = [], base?: string): Mirrors {
  const hosts: Record<string, string> = {};
  let every: string | undefined;
  for (const text of base === undefined ? flags : [...flags, base]) {
    const flag = parseMirrorFlag(text);
    if (flag.upstream !== '*') {
      hosts[flag.upstream] = urlOf(flag);
      continue;
    }
    if (every !== undefined && every !== urlOf(flag)) {
      throw new UsageError(`--mirror ${every} and --mirror ${text} both claim every upstream host`, { hint: 'keep one, and name the other\'s hosts: --mirror HOST=URL' });
    }
    every = urlOf(flag);
  }
  return { hosts, base: every };
}

/** The URL to fetch for an upstream URL under these mirrors (the URL itself when none applies). */
export function mirrorUrl(upstream: string, mirrors: Mirrors): string {
  const url = new URL(upstream);
  const host = url.host.toLowerCase();
  const mapped = mirrors.hosts[host];
  if (mapped !== undefined) return `${mapped}${url.pathname}${url.search}`;
  if (mirrors.base !== undefined) return `${mirrors.base}/${host}${url.pathname}${url.search}`;
  return upstream;
}

/** The document's `source` for an upstream URL: `url` to fetch, and `upstreamUrl` when they differ. */
export function sourceFor(upstream: string, mirrors: Mirrors, checksumUpstream?: string): { url: string; upstreamUrl?: string; checksumUrl?: string } {
  const url = mirrorUrl(upstream, mirrors);
  return {
    url,
    ...(url === upstream ? {} : { upstreamUrl: upstream }),
    ...(checksumUpstream === undefined ? {} : { checksumUrl: checksumUpstream }),
  };
}
