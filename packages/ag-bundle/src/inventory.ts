import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  API_VERSION,
  Digest,
  MissingError,
  RelativePath,
  sha256File,
  Sha256Hex,
  Timestamp,
  UsageError,
  withContext,
  type ProgressTask,
} from '@ag/core';
import { blobHexOf } from './known-hashes.js';
import { layoutDirs } from './layouts.js';
import { GENERATED_FILES } from './sums.js';
import { walkRoot } from './walk.js';

/**
 * What the far side already has, carried back to the connected side so the
 * next bundle holds only what is missing (`pack --have`). Small: one line of
 * JSON per blob or file, no content.
 */
export const Inventory = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal('BundleInventory'),
  createdAt: Timestamp,
  /** The directory inventoried, on the far side. */
  root: Type.String(),
  /** The OCI layouts found, with the blobs each stores (by name: a layout's blobs are named by their digest). */
  layouts: Type.Array(
    Type.Object({
      path: Type.String({ description: 'relative to the root, e.g. images' }),
      blobs: Type.Array(Type.Object({ digest: Digest, size: Type.Integer({ minimum: 0 }) })),
    }),
  ),
  /** Every other file, hashed. */
  files: Type.Array(Type.Object({ path: RelativePath, sha256: Sha256Hex, size: Type.Integer({ minimum: 0 }) })),
});
export type Inventory = Static<typeof Inventory>;

export interface InventoryOptions {
  /** The far side's bundle root (an unpacked bundle). */
  dir: string;
  /** Hashing progress, in bytes. */
  progress?: ProgressTask;
}

/**
 * Records what an unpacked bundle on the far side holds: each layout's blobs
 * by digest (taken from their names, not re-hashed: `unpack` of a delta
 * hashes every file it reuses before trusting it) and every other file with
 * its sha256. Deliberately not here (yet): the blobs an internal registry
 * holds; pack against the unpacked bundle the registry was filled from.
 */
export async function takeInventory(options: InventoryOptions): Promise<Inventory> {
  const root = resolve(options.dir);
  const info = await stat(root).catch((error: unknown) => {
    throw withContext(`inventorying ${root}`, error);
  });
  if (!info.isDirectory()) throw new UsageError(`${root} is not a directory`);
  const { files } = await walkRoot(root, GENERATED_FILES);
  const layouts = layoutDirs(files.map((file) => file.path));
  const inLayout = (path: string): string | undefined =>
    layouts.find((dir) => (dir === '' ? path.startsWith('blobs/sha256/') : path.startsWith(`${dir}/blobs/sha256/`)));
  const inventory: Inventory = {
    apiVersion: API_VERSION,
    kind: 'BundleInventory',
    createdAt: new Date().toISOString(),
    root,
    layouts: layouts.map((path) => ({ path, blobs: [] })),
    files: [],
  };
  const toHash = files.filter((file) => blobHexOf(file.path) === undefined || inLayout(file.path) === undefined);
  options.progress?.setTotal(toHash.reduce((sum, file) => sum + file.size, 0));
  for (const file of files) {
    const hex = blobHexOf(file.path);
    const layout = hex === undefined ? undefined : inLayout(file.path);
    if (hex !== undefined && layout !== undefined) {
      inventory.layouts.find((entry) => entry.path === layout)!.blobs.push({ digest: `sha256:${hex}`, size: file.size });
      continue;
    }
    const { sha256, size } = await sha256File(file.source).catch((error: unknown) => {
      throw withContext(`hashing ${file.path}`, error);
    });
    options.progress?.advance(size);
    inventory.files.push({ path: file.path, sha256, size });
  }
  return inventory;
}

/** Reads an inventory file: its content and its own sha256 (recorded in the delta bundle). */
export async function readInventory(path: string): Promise<{ inventory: Inventory; sha256: string; name: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MissingError(`the inventory ${path} does not exist`, { hint: 'take one on the far side with ag-bundle inventory --dir DIR --out inventory.json' });
    }
    throw withContext(`reading the inventory ${path}`, error);
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new UsageError(`the inventory ${path} is not valid JSON (${(error as Error).message})`);
  }
  if (!Value.Check(Inventory, value)) {
    const first = [...Value.Errors(Inventory, value)][0];
    throw new UsageError(`${path} is not an ag-bundle inventory (${first?.path || '$'}: ${first?.message ?? 'invalid'})`, {
      hint: 'pass the file ag-bundle inventory wrote on the far side',
    });
  }
  return { inventory: value, sha256: createHash('sha256').update(bytes).digest('hex'), name: basename(path) };
}
