import { UsageError } from '@ag/core';

/**
 * Where to fetch what upstream publishes: `https://dl.k8s.io/x` stays as it
 * is, or goes to a mirror. A per-host mirror (`--mirror dl.k8s.io=URL`) maps
 * `https://dl.k8s.io/PATH` to `URL/PATH`; a mirror base (`--mirror-base URL`)
 * maps every host to `URL/<host>/PATH` (one internal server holding a
 * directory per upstream host, which is also how the test fixtures lay it out).
 */
export interface Mirrors {
  hosts: Record<string, string>;
  base?: string | undefined;
}

export const NO_MIRRORS: Mirrors = { hosts: {} };

function checkBaseUrl(value: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(value)}: not a URL`, { hint: `e.g. ${flag} http://mirror.internal:8080` });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${flag} ${value}: only http and https mirrors are supported`);
  return value.replace(/\/+$/, '');
}

/** Parses `--mirror HOST=URL` (repeatable) and `--mirror-base URL`. */
export function parseMirrors(hostFlags: readonly string[] = [], base?: string): Mirrors {
  const hosts: Record<string, string> = {};
  for (const flag of hostFlags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new UsageError(`--mirror ${JSON.stringify(flag)}: expected HOST=URL`, { hint: 'e.g. --mirror dl.k8s.io=https://mirror.internal/k8s' });
    hosts[flag.slice(0, eq).toLowerCase()] = checkBaseUrl(flag.slice(eq + 1), '--mirror');
  }
  return { hosts, base: base === undefined ? undefined : checkBaseUrl(base, '--mirror-base') };
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
