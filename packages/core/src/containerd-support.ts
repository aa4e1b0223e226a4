/**
 * Which containerd releases each Kubernetes minor supports: containerd's
 * RELEASES.md, section "Kubernetes Support" ("the versions of containerd
 * which are recommended for a Kubernetes release"), read on 2026-12-02 in
 * the history of github.com/containerd/containerd:
 * - 1.27, 1.28: commit 26b48a6b7 (2024-09-03), the last to list them;
 * - 1.29: commit f71c2c2d5 (2025-04-24), the last to list it;
 * - 1.30: commit 84aa20676 (2025-09-12), the last to list it;
 * - 1.31: commit c49379c38 (2025-12-17), the last to list it;
 * - 1.32 – 1.36: commit 301026e58 (2026-08-22), the newest.
 * Each entry is the lowest supported patch of a containerd minor; a
 * containerd minor older than every entry, or between entries, is not
 * supported (e.g. 1.36 lists only 2.3 and 2.2: containerd 1.x is not), one
 * newer than every entry is taken as supported (containerd keeps CRI v1).
 */
export const CONTAINERD_SUPPORT: Record<string, string[]> = {
  '1.27': ['1.7.0', '1.6.15'],
  '1.28': ['1.7.0', '1.6.15'],
  '1.29': ['1.7.11', '1.6.27'],
  '1.30': ['2.1.0', '2.0.0', '1.7.13', '1.6.28'],
  '1.31': ['2.1.0', '2.0.0', '1.7.20', '1.6.34'],
  '1.32': ['2.1.0', '2.0.1', '1.7.24', '1.6.36'],
  '1.33': ['2.1.0', '2.0.4', '1.7.24', '1.6.36'],
  '1.34': ['2.1.3', '2.0.6', '1.7.28', '1.6.39'],
  '1.35': ['2.2.0', '2.1.5', '1.7.28'],
  '1.36': ['2.3.0', '2.2.0'],
};

type Triple = [number, number, number];
const triple = (text: string): Triple => text.split('.').map(Number) as Triple;

/** `containerd github.com/containerd/containerd v1.7.2 …`, `… 1.6.20~ds1 …` -> `1.7.2`. */
export function containerdVersionOf(text: string): string | undefined {
  return /\bv?(\d+\.\d+\.\d+)/.exec(text)?.[1];
}

export type ContainerdVerdict = { supported: true; by: string } | { supported: false; why: string } | { unknown: string };

/** Whether containerd `version` is a supported one for Kubernetes `minor` (`1.27`). */
export function containerdSupported(minor: string, version: string): ContainerdVerdict {
  const row = CONTAINERD_SUPPORT[minor];
  if (row === undefined) return { unknown: `containerd's support table has no row for Kubernetes ${minor}` };
  const [major, min, patch] = triple(version);
  const listed = row.map(triple);
  const same = listed.find(([a, b]) => a === major && b === min);
  const wanted = row.map((v) => `${v}+`).join(', ');
  if (same !== undefined) {
    return patch >= same[2] ? { supported: true, by: `${same.join('.')}+` } : { supported: false, why: `containerd ${version} is older than ${same.join('.')}, the first ${major}.${min} release containerd supports for Kubernetes ${minor} (${wanted})` };
  }
  const newest = listed[0]!;
  if (major > newest[0] || (major === newest[0] && min > newest[1])) return { supported: true, by: `newer than ${row[0]}` };
  return { supported: false, why: `containerd ${major}.${min} is not among the releases containerd supports for Kubernetes ${minor} (${wanted})` };
}

/**
 * The newest Kubernetes minor of the table for which containerd `version`
 * is supported (`1.28` for Debian 12's 1.6.20), or undefined when none is.
 */
export function newestMinorSupporting(version: string): string | undefined {
  const minors = Object.keys(CONTAINERD_SUPPORT).sort((a, b) => Number(b.split('.')[1]) - Number(a.split('.')[1]));
  return minors.find((minor) => {
    const verdict = containerdSupported(minor, version);
    return 'supported' in verdict && verdict.supported;
  });
}
