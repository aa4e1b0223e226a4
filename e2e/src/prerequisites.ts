import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Programs the run starts itself (the Debian packages tools/ci/install-debian-packages.sh installs). */
export const PROGRAMS = ['ip', 'containerd', 'ctr', 'runc', 'docker-registry', 'skopeo', 'openssl', 'tar', 'sha256sum', 'nsenter', 'busybox', 'unshare', 'mount'] as const;

function onPath(program: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why this user cannot make the simulated gap (not root), or undefined. */
export function notRoot(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'the simulated air gap needs root (network namespaces, containerd): run it as root, as CI does';
}

/** Why the simulated gap cannot run here (not root, a program missing), or undefined when it can. */
export function missingPrerequisites(): string | undefined {
  const why = notRoot();
  if (why !== undefined) return why;
  const missing = PROGRAMS.filter((program) => !onPath(program));
  if (missing.length > 0) return `missing programs: ${missing.join(', ')}; run tools/ci/install-debian-packages.sh as root`;
  return undefined;
}
