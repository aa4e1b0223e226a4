import { writeFileAtomic } from '@ag/core';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A cached API answer: its ETag, its body as received, and the next page it linked to. */
export interface CachedAnswer {
  etag: string;
  body: string;
  next?: string;
}

export interface EtagCache {
  read(url: string): Promise<CachedAnswer | undefined>;
  write(url: string, answer: CachedAnswer): Promise<void>;
}

/**
 * One JSON file per upstream URL (named by its SHA-256) under `dir`. A file
 * that cannot be read or parsed counts as absent: the request then goes out
 * unconditionally and the answer replaces it. Without `dir`, answers are kept
 * for this run only.
 */
export function createEtagCache(dir: string | undefined): EtagCache {
  if (dir === undefined) {
    const memory = new Map<string, CachedAnswer>();
    return { read: async (url) => memory.get(url), write: async (url, answer) => void memory.set(url, answer) };
  }
  const fileFor = (url: string): string => join(dir, `${createHash('sha256').update(url).digest('hex')}.json`);
  return {
    async read(url) {
      try {
        const parsed = JSON.parse(await readFile(fileFor(url), 'utf8')) as Partial<CachedAnswer> & { url?: string };
        if (parsed.url !== url || typeof parsed.etag !== 'string' || typeof parsed.body !== 'string') return undefined;
        return { etag: parsed.etag, body: parsed.body, ...(typeof parsed.next === 'string' ? { next: parsed.next } : {}) };
      } catch {
        return undefined;
      }
    },
    async write(url, answer) {
      await writeFileAtomic(fileFor(url), `${JSON.stringify({ url, ...answer })}\n`);
    },
  };
}

/** `$XDG_CACHE_HOME/ag/release-listings`, else `~/.cache/ag/release-listings`. */
export function defaultListingCache(env: Record<string, string | undefined>, home: string): string {
  return join(env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? home, '.cache'), 'ag', 'release-listings');
}
