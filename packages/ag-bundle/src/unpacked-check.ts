import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File, withContext, type ProgressTask } from '@ag/core';
import type { Problem } from './scan.js';
import { parseSums, SIGNATURE_FILE, SUMS_FILE } from './sums.js';

/**
 * Checks an unpacked bundle in `dir` the way `sha256sum --strict -c
 * SHA256SUMS` would there: every file SHA256SUMS lists is a regular file
 * with that sha256. Also that `dir`'s signature file holds the bundle's
 * `signature` (the bytes the bundle carries). Returns one problem per bad
 * item, its path relative to `dir`; reads only.
 */
export async function checkUnpackedTree(dir: string, sumsText: Buffer, signature: Buffer | undefined, task?: ProgressTask): Promise<Problem[]> {
  const problems: Problem[] = [];
  const { entries, problems: malformed } = parseSums(sumsText.toString('utf8'));
  for (const problem of malformed) problems.push({ item: SUMS_FILE, kind: 'malformed', message: `${join(dir, SUMS_FILE)}: ${problem.message}` });
  task?.setTotal(entries.size);
  for (const [path, expected] of entries) {
    const target = join(dir, path);
    const info = await lstat(target).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw withContext(`checking ${target}`, error);
    });
    if (info === undefined) {
      problems.push({ item: path, kind: 'missing', message: `${target} is listed in ${SUMS_FILE} but missing` });
    } else if (!info.isFile()) {
      problems.push({ item: path, kind: 'mismatch', message: `${target} is not a regular file` });
    } else {
      const { sha256 } = await sha256File(target).catch((error: unknown) => {
        throw withContext(`hashing ${target}`, error);
      });
      if (sha256 !== expected) problems.push({ item: path, kind: 'mismatch', message: `${target} does not match ${SUMS_FILE} (sha256 ${sha256}, expected ${expected}): it changed since it was unpacked` });
    }
    task?.advance(1);
  }
  if (signature !== undefined) {
    const present = await readFile(join(dir, SIGNATURE_FILE)).catch(() => undefined);
    if (present === undefined || !present.equals(signature)) {
      problems.push({ item: SIGNATURE_FILE, kind: 'mismatch', message: `${join(dir, SIGNATURE_FILE)} is ${present === undefined ? 'missing' : 'not the signature the bundle carries'}` });
    }
  }
  return problems;
}
