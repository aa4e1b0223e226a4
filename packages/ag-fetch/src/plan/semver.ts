/** `v1.35.2` / `1.35.2` / `3.1.0` -> [1, 35, 2]; missing parts are 0, anything after `-` is ignored. */
function parts(version: string): number[] {
  return version
    .replace(/^v/, '')
    .split('-')[0]!
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
}

/** Orders release versions numerically (`v0.28.0` after `v0.27.4`, `v1.10.0` after `v1.9.1`). */
export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length, 3); i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** True when `version` is `floor` or newer. */
export const atLeast = (version: string, floor: string): boolean => compareVersions(version, floor) >= 0;

/** `v1.35.2` -> `1.35`. */
export function minorOf(version: string): string {
  const [major = 0, minor = 0] = parts(version);
  return `${major}.${minor}`;
}
