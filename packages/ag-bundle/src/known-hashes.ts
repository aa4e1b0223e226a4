import { SHA256_HEX, type AgDocument } from '@ag/core';

/** Where a file's expected sha256 came from before pack reads it. */
export type HashSource = 'blob-name' | 'document' | 'computed';

export interface KnownHash {
  sha256: string;
  size?: number;
  source: HashSource;
}

const BLOB_PATH = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/;

/** The digest an OCI layout blob's path names (`…/blobs/sha256/<hex>`), if it is one. */
export function blobHexOf(path: string): string | undefined {
  return BLOB_PATH.exec(path)?.[1];
}

/** The sections that describe files in the bundle root (others hold host paths, archive members, certificates). */
const FILE_SECTIONS = ['fetch', 'packages'] as const;

/**
 * Every `{path, sha256[, size]}` in the sections that describe files of the
 * bundle root: fetch's files and the OS packages. ag-fetch verified each of
 * them when it downloaded the file, so pack can list it in SHA256SUMS
 * without a first pass and still checks it as it streams it into the archive.
 */
export function documentHashes(document: AgDocument): Map<string, KnownHash> {
  const found = new Map<string, KnownHash>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    const { path, sha256, size } = record;
    if (typeof path === 'string' && typeof sha256 === 'string' && SHA256_HEX.test(sha256)) {
      found.set(path, { sha256, source: 'document', ...(typeof size === 'number' ? { size } : {}) });
    }
    for (const child of Object.values(record)) visit(child);
  };
  for (const key of FILE_SECTIONS) visit(document[key]);
  return found;
}
