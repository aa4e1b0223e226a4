import { readFile } from 'node:fs/promises';
import { withContext } from '@ag/core';

/** A small text file's content, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw withContext(`reading ${path}`, error);
  }
}
