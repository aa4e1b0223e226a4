import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { INGEST_DIR, TEMP_MARKER, UsageError, withContext } from '@ag/core';
import { unsafePathReason } from './entry-path.js';

/** A regular file found under the bundle root. */
export interface FoundFile {
  /** Relative to the root, `/`-separated. */
  path: string;
  /** Absolute. */
  source: string;
  size: number;
  executable: boolean;
  /** Seconds since the epoch. */
  mtime: number;
}

export interface WalkResult {
  files: FoundFile[];
  /** Temporaries and ingest directories left out (a killed writer's leftovers). */
  skipped: string[];
}

/**
 * Lists every regular file under `root`, sorted by path. Leaves out what is
 * never part of a bundle: `skipRoot` names at the root (the files pack
 * writes itself), temporaries (the `.ag-tmp-` marker) and layouts' ingest
 * directories. Refuses, naming each, symbolic links, devices, sockets and
 * fifos, and paths that SHA256SUMS cannot carry: a bundle carries plain
 * files only, so what is checked on the far side is what is unpacked.
 */
/** Whether a layout's ingest directory holds more than its index lock (partial blobs of a pull that stopped). */
async function holdsPartialDownloads(ingestDir: string): Promise<boolean> {
  const names = await readdir(ingestDir).catch(() => [] as string[]);
  return names.some((name) => !name.startsWith('index.lock'));
}

export async function walkRoot(root: string, skipRoot: readonly string[] = []): Promise<WalkResult> {
  const files: FoundFile[] = [];
  const skipped: string[] = [];
  const refused: string[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      throw withContext(`listing ${dir}`, error);
    }
    for (const name of names) {
      const path = prefix === '' ? name : `${prefix}/${name}`;
      const source = join(dir, name);
      if (name === INGEST_DIR) {
        // Every layout ag-images wrote has one; only unfinished downloads in it are worth a word.
        if (await holdsPartialDownloads(source)) skipped.push(path);
        continue;
      }
      if (name.includes(TEMP_MARKER) || (prefix === '' && skipRoot.includes(name))) {
        if (!(prefix === '' && skipRoot.includes(name))) skipped.push(path);
        continue;
      }
      const info = await lstat(source);
      if (info.isDirectory()) {
        await visit(source, path);
        continue;
      }
      const unsafe = unsafePathReason(path);
      if (unsafe !== undefined) refused.push(`${JSON.stringify(path)}: ${unsafe}`);
      else if (info.isSymbolicLink()) refused.push(`${path}: a symbolic link (to ${await readlink(source)})`);
      else if (!info.isFile()) refused.push(`${path}: not a regular file`);
      else files.push({ path, source, size: info.size, executable: (info.mode & 0o111) !== 0, mtime: Math.floor(info.mtimeMs / 1000) });
    }
  };
  await visit(root, '');
  if (refused.length > 0) {
    throw new UsageError(`${root} holds ${refused.length} thing(s) a bundle cannot carry:\n  ${refused.slice(0, 20).join('\n  ')}`, {
      hint: 'bundles carry regular files only: replace links with the files they point at, and remove devices and sockets',
    });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, skipped };
}
