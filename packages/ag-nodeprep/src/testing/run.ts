import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { main } from '../cli.js';

/** Runs `ag-nodeprep …` in-process with the document on stdin; returns the exit code, the document written and stderr. */
export async function run(argv: string[], document?: AgDocument): Promise<{ code: number; document: AgDocument | undefined; stderr: string }> {
  const io = createTestIo({ stdin: document === undefined ? '' : JSON.stringify(document) });
  const code = await main(argv, io);
  const out = io.stdoutText();
  return { code, document: out === '' ? undefined : (JSON.parse(out) as AgDocument), stderr: io.stderrText() };
}

/** Every file and link under `dir` (relative path -> content, `-> target` for links, with mode), skipping `skip` prefixes. */
export async function listTree(dir: string, skip: string[] = []): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (skip.some((prefix) => path.startsWith(prefix))) continue;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) await walk(path);
      else if (info.isSymbolicLink()) result[path] = `-> ${await readlink(join(dir, path))}`;
      else result[path] = `${(info.mode & 0o777).toString(8)} ${await readFile(join(dir, path), 'utf8')}`;
    }
  };
  await walk('');
  return result;
}
