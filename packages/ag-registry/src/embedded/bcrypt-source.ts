import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * bcryptjs's CommonJS (UMD) build as text, which the password worker
 * evaluates: a worker started from source needs no second file, so it runs
 * the same way from src/, from a tool's bundle and from the single
 * executable. Here it is read from node_modules; the tools' bundles have no
 * node_modules, and tools/build/bundle-bins.mjs replaces this module with one
 * that returns the text itself.
 */
export function bcryptSource(): string {
  // The `require` condition of bcryptjs's exports is its UMD build.
  return readFileSync(createRequire(import.meta.url).resolve('bcryptjs'), 'utf8');
}
