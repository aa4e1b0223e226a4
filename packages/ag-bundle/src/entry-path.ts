/**
 * What a path inside a bundle may look like: relative, `/`-separated, no
 * empty, `.` or `..` segment, nothing `sha256sum` would have to escape
 * (newline, backslash) and no NUL. A path that passes cannot leave the
 * bundle root, however it is joined onto it.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path === '') return 'it is empty';
  if (path.startsWith('/')) return 'it is an absolute path, outside the bundle root';
  if (/[\0\n\r\\]/.test(path)) return 'it holds a NUL, newline or backslash';
  const segments = path.split('/');
  if (segments.includes('..')) return 'it climbs out of the bundle root with ..';
  if (segments.some((segment) => segment === '' || segment === '.')) return 'it has an empty or . segment';
  return undefined;
}

/** Strips the trailing slash tar gives directories, then checks the path. */
export function normaliseEntryPath(raw: string, isDirectory: boolean): string {
  return isDirectory && raw.endsWith('/') ? raw.slice(0, -1) : raw;
}

/** Where a link's target lands, relative to the root, or undefined when it leaves the root. */
export function linkTargetInRoot(entryPath: string, target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const parts = entryPath.split('/').slice(0, -1);
  for (const segment of target.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(segment);
  }
  return parts.join('/');
}
