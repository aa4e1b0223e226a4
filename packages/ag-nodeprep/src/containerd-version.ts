import { runProgram, type AgDocument } from '@ag/core';
import type { StepContext } from './context.js';
import { readNodeText } from './root-fs.js';

export interface ContainerdVersion {
  version?: string;
  source: string;
}

/** `1.6.20` from `1.6.20~ds1-1+deb12u3`, `1.7.2-3.1`, `v2.0.1`; undefined otherwise. */
export function plainVersion(text: string): string | undefined {
  return /(?:^|[\s:v])(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? /^(\d+\.\d+\.\d+)/.exec(text)?.[1];
}

const PACKAGE_NAMES = ['containerd', 'containerd.io'];

/** The version of an installed containerd package from dpkg's status file (Debian, Ubuntu), read inside the root. */
export function dpkgContainerdVersion(status: string): string | undefined {
  for (const paragraph of status.split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(paragraph)?.[1];
    if (name === undefined || !PACKAGE_NAMES.includes(name)) continue;
    if (!/^Status:.*\binstalled\b/m.test(paragraph) || /^Status:.*\bnot-installed\b/m.test(paragraph)) continue;
    const version = /^Version:\s*(\S+)/m.exec(paragraph)?.[1];
    const plain = version === undefined ? undefined : plainVersion(version.replace(/^\d+:/, ''));
    if (plain !== undefined) return plain;
  }
  return undefined;
}

function fromPackagesSection(document: AgDocument | undefined): string | undefined {
  for (const pkg of document?.packages?.closure ?? []) {
    if (PACKAGE_NAMES.includes(pkg.name)) return plainVersion(pkg.version.replace(/^\d+:/, ''));
  }
  return undefined;
}

/** The containerd the bundle installs from its release archive (`ag-fetch plan --containerd upstream`), for this node's architecture. */
export function fromBundleArchive(context: Pick<StepContext, 'document' | 'arch'>): string | undefined {
  const file = (context.document?.fetch?.files ?? []).find(
    (f) => f.name === 'containerd' && f.kind === 'archive' && f.install !== undefined && (f.arch === undefined || f.arch === context.arch),
  );
  return file?.version === undefined ? undefined : plainVersion(`v${file.version.replace(/^v/, '')}`);
}

/**
 * Which containerd the config is for: --containerd-version, else the one
 * the bundle installs in this very run (fetch.files), else the dpkg
 * database in the root, else `containerd --version` (host only: never runs a
 * binary of another root), else the OS packages the bundle carries. Unknown
 * is fine: config version 2 is read by 1.6, 1.7 and 2.x alike.
 */
export async function detectContainerdVersion(context: Pick<StepContext, 'root' | 'hostMode' | 'options' | 'document' | 'io' | 'arch'>): Promise<ContainerdVersion> {
  if (context.options.containerdVersion !== undefined) return { version: plainVersion(`v${context.options.containerdVersion.replace(/^v/, '')}`), source: '--containerd-version' };
  const bundled = fromBundleArchive(context);
  if (bundled !== undefined) return { version: bundled, source: 'the bundle (fetch.files)' };
  const status = await readNodeText(context.root, '/var/lib/dpkg/status');
  const fromDpkg = status === undefined ? undefined : dpkgContainerdVersion(status);
  if (fromDpkg !== undefined) return { version: fromDpkg, source: 'dpkg status' };
  if (context.hostMode) {
    const result = await runProgram('containerd', ['--version'], { env: context.io.env, stderr: context.io.stderr, allowFailure: true, streamStderr: false }).catch(() => undefined);
    const version = result?.exitCode === 0 ? plainVersion(result.stdout.split(/\s+/).slice(2).join(' ')) : undefined;
    if (version !== undefined) return { version, source: 'containerd --version' };
  }
  const carried = fromPackagesSection(context.document);
  if (carried !== undefined) return { version: carried, source: 'packages section' };
  return { source: 'default (unknown version: config version 2, which containerd 1.6, 1.7 and 2.x read)' };
}

/** Whether this containerd reads the CNI directory as `bin_dirs` (2.1 and later; `bin_dir` is deprecated there: containerd-config.ts). */
export function readsCniBinDirs(version: string | undefined): boolean {
  if (version === undefined) return false;
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  return major > 2 || (major === 2 && minor >= 1);
}

/** Config version 3 for containerd 2.x, 2 otherwise. */
export function configVersionFor(version: string | undefined): 2 | 3 {
  const major = version === undefined ? 1 : Number.parseInt(version, 10);
  return major >= 2 ? 3 : 2;
}
