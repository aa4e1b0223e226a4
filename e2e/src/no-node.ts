import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, delimiter, dirname, join } from 'node:path';
import { execa } from 'execa';

/** The names under which this machine has Node.js, besides the running binary's own. */
const NODE_NAMES = ['node', 'nodejs'];

/**
 * Every directory (real path) that holds a Node.js this machine could run:
 * each PATH directory with a `node` or `nodejs` in it, and the running
 * binary's own directory.
 */
export function nodeDirectories(path = process.env['PATH'] ?? '', execPath = process.execPath): string[] {
  const dirs = new Set<string>([dirname(realpathSync(execPath))]);
  for (const dir of path.split(delimiter)) {
    if (dir === '' || !NODE_NAMES.some((name) => existsSync(join(dir, name)))) continue;
    dirs.add(realpathSync(dir));
  }
  return [...dirs].sort();
}

/**
 * A command prefix that runs the rest in a mount namespace of its own where
 * this machine's Node.js is gone: each directory that holds one gets a
 * read-only overlay whose top layer has a whiteout (a 0/0 character device,
 * the overlayfs mark for a deleted file) for each Node.js name, so `node`
 * is not found, not merely not executable, and everything else in those
 * directories (sh, tar, openssl) is still there. `whiteouts` is a directory
 * for the whiteout layer (made here; needs root, as the e2e does).
 */
export async function withoutNode(prefix: readonly string[], whiteouts: string): Promise<string[]> {
  await mkdir(whiteouts, { recursive: true });
  const dirs = nodeDirectories();
  const names = new Set([...NODE_NAMES, basename(process.execPath)]);
  for (const dir of dirs) for (const entry of readdirSync(dir)) if (/^node/.test(entry) && existsSync(join(dir, entry))) names.add(entry);
  for (const name of names) {
    if (!existsSync(join(whiteouts, name))) await execa('mknod', [join(whiteouts, name), 'c', '0', '0']);
  }
  const mounts = dirs.map((dir) => `mount -t overlay ag-no-node -o ${shellQuote(`lowerdir=${whiteouts}:${dir}`)} ${shellQuote(dir)}`);
  return [...prefix, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${mounts.join(' && ')} && exec "$@"`, 'ag-no-node'];
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What `command -v` finds for each Node.js name in a shell started with `prefix` (empty: none). */
export function nodeFoundWith(prefix: readonly string[]): string {
  const argv = [...prefix, 'sh', '-c', `for n in ${NODE_NAMES.join(' ')}; do command -v "$n"; done; true`];
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).trim();
}
