import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import type { AgDocument } from './schema.js';

/** The bundle root the document names, or a usage error saying how to set it. */
export function bundleRoot(document: AgDocument | undefined, override?: string, cwd = process.cwd()): string {
  if (override !== undefined) return resolve(cwd, override);
  if (document?.root !== undefined) return document.root;
  throw new UsageError('no bundle root: the document names none and no directory was given', {
    hint: 'pass --dir DIR (or start the pipeline with ag-fetch plan --dir DIR)',
  });
}

/** Resolves a path that the document holds relative to the bundle root; refuses one that escapes it. */
export function resolveInRoot(root: string, relativePath: string): string {
  if (isAbsolute(relativePath)) throw new UsageError(`path ${JSON.stringify(relativePath)} must be relative to the bundle root`);
  const full = resolve(root, relativePath);
  if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new UsageError(`path ${JSON.stringify(relativePath)} escapes the bundle root ${root}`);
  }
  return full;
}

/** The path of `absolutePath` relative to the bundle root, with forward slashes. */
export function relativeToRoot(root: string, absolutePath: string): string {
  const rel = relative(root, absolutePath);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new UsageError(`${absolutePath} is outside the bundle root ${root}`);
  return rel.split(sep).join('/');
}

