import type { BundleReused } from '@ag/core';
import type { Inventory } from './inventory.js';
import { blobHexOf } from './known-hashes.js';

/** What delta selection needs to know about one file of the bundle. */
export interface DeltaCandidate {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Which files the far side already has, by content: a layout blob whose
 * digest (and size) one of the inventory's layouts stores, or any other file
 * whose sha256 (and size) the inventory lists, at the same path or, if it
 * moved, at another (recorded as `from`). Never reused: manifests and
 * indexes (`keep`: small, and what unpack checks the images against), a
 * layout's `index.json` and `oci-layout`, and the files pack writes itself.
 */
export function selectReused(candidates: DeltaCandidate[], inventory: Inventory, keep: (path: string) => boolean): BundleReused[] {
  const blobs = new Map<string, { path: string; size: number }>();
  for (const layout of inventory.layouts) {
    for (const blob of layout.blobs) {
      const hex = blob.digest.slice('sha256:'.length);
      blobs.set(hex, { path: `${layout.path === '' ? '' : `${layout.path}/`}blobs/sha256/${hex}`, size: blob.size });
    }
  }
  const byPath = new Map(inventory.files.map((file) => [file.path, file]));
  const byHash = new Map<string, { path: string; size: number }>();
  for (const file of inventory.files) if (!byHash.has(file.sha256)) byHash.set(file.sha256, file);
  const reused: BundleReused[] = [];
  for (const candidate of candidates) {
    if (keep(candidate.path)) continue;
    const hex = blobHexOf(candidate.path);
    const there =
      (hex !== undefined && hex === candidate.sha256 ? blobs.get(hex) : undefined) ??
      (byPath.get(candidate.path)?.sha256 === candidate.sha256 ? byPath.get(candidate.path) : undefined) ??
      byHash.get(candidate.sha256) ??
      (blobs.get(candidate.sha256) as { path: string; size: number } | undefined);
    if (there === undefined || there.size !== candidate.size) continue;
    reused.push(there.path === candidate.path ? { path: candidate.path } : { path: candidate.path, from: there.path });
  }
  return reused;
}
