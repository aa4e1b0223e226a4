import { lstat, readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';

/**
 * Files of the node, seen through `--root`. Every path ag-nodeprep handles is
 * the absolute path on the node (`/etc/fstab`); these helpers map it under the
 * root and resolve symlinks the way a chroot would, so an absolute link inside
 * an image (`/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf`) never
 * leads to the build machine's own files.
 */

/** `<root>/etc/fstab` for `/etc/fstab` (plain join; no symlink resolution). */
export function inRoot(root: string, nodePath: string): string {
  if (!nodePath.startsWith('/')) throw new Error(`internal: node path ${nodePath} is not absolute`);
  return root === '/' ? nodePath : posix.join(root, nodePath);
}

/**
 * Resolves every symlink in `nodePath` as the node would see it (absolute
 * targets are relative to the root), returning the node path of the final
 * file; a dangling link resolves to where it points. Gives up after 40 links, as the kernel does.
 */
export async function resolveNodePath(root: string, nodePath: string): Promise<string> {
  const parts = posix.normalize(nodePath).split('/').filter(Boolean);
  let resolved = '/';
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    const next = posix.join(resolved, part);
    const info = await lstat(inRoot(root, next)).catch(() => undefined);
    if (info?.isSymbolicLink()) {
      if (++hops > 40) throw Object.assign(new Error(`too many levels of symbolic links at ${next}`), { code: 'ELOOP' });
      const target = await readlink(inRoot(root, next));
      const base = target.startsWith('/') ? '/' : resolved;
      parts.unshift(...posix.normalize(posix.join(base, target)).split('/').filter(Boolean));
      resolved = '/';
      continue;
    }
    resolved = next;
  }
  return resolved;
}

/** The text of a node file (symlinks followed inside the root), or undefined when it does not exist. */
export async function readNodeText(root: string, nodePath: string): Promise<string | undefined> {
  const real = await resolveNodePath(root, nodePath);
  try {
    return await readFile(inRoot(root, real), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** What is at a node path itself (the link, not its target), or undefined. */
export async function lstatNode(root: string, nodePath: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  return lstat(inRoot(root, nodePath)).catch(() => undefined);
}

/** Whether a node path exists (following links inside the root). */
export async function nodeExists(root: string, nodePath: string): Promise<boolean> {
  const real = await resolveNodePath(root, nodePath).catch(() => undefined);
  return real !== undefined && (await lstatNode(root, real)) !== undefined;
}

/** The first of `candidates` that exists, or undefined. */
export async function firstExisting(root: string, candidates: readonly string[]): Promise<string | undefined> {
  for (const candidate of candidates) if (await nodeExists(root, candidate)) return candidate;
  return undefined;
}

/** `0755` for 0o755. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
