import { posix } from 'node:path';
import { bundleRoot, isExecutable, resolveInRoot, type FileArtifact } from '@ag/core';
import { extractArchiveAction } from '../actions/extract-archive.js';
import { installFileAction } from '../actions/install-file.js';
import { requireAction } from '../actions/run-command.js';
import type { Action } from '../actions/types.js';
import type { StepCode, StepContext } from '../context.js';
import { firstExisting, inRoot } from '../root-fs.js';

/** The files of the document this node installs: those with `install`, of its architecture; units go to the kubelet step. */
export function installableFiles(context: Pick<StepContext, 'document' | 'arch'>): FileArtifact[] {
  return (context.document?.fetch?.files ?? []).filter(
    (f) => f.install !== undefined && f.kind !== 'systemd-unit' && (f.arch === undefined || f.arch === context.arch),
  );
}

/** Where each installed program lands on the node (`kubelet` -> `/usr/local/bin/kubelet`), for fixing unit paths. */
export function installedPrograms(files: readonly FileArtifact[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const file of files) {
    if (file.install?.path !== undefined) map.set(posix.basename(file.install.path), file.install.path);
    if (file.install?.extractTo !== undefined) {
      for (const member of file.install.members ?? []) map.set(posix.basename(member), posix.join(file.install.extractTo, posix.basename(member)));
    }
  }
  return map;
}

function parseMode(mode: string | undefined, fallback: number): number {
  return mode === undefined ? fallback : Number.parseInt(mode, 8);
}

/** Without a document: what a node must have all the same (check reports what is missing). */
const EXPECTED_PROGRAMS = ['kubeadm', 'kubelet', 'kubectl', 'crictl'];
const EXPECTED_CNI = ['bridge', 'host-local', 'loopback', 'portmap'];

function expectedWithoutDocument(): Action[] {
  const hint = 'pipe the document (with fetch.files) into ag-nodeprep apply, so it installs them from the bundle';
  return [
    ...EXPECTED_PROGRAMS.map((name) =>
      requireAction({
        step: 'binaries',
        target: name,
        why: `kubeadm needs ${name}`,
        async problems(env) {
          const found = await firstExisting(env.root, [`/usr/local/bin/${name}`, `/usr/bin/${name}`]);
          return found !== undefined && (await isExecutable(inRoot(env.root, found))) ? [] : [`${name} is not installed (neither /usr/local/bin/${name} nor /usr/bin/${name})`];
        },
        hint,
        onApply: 'warn',
      }),
    ),
    requireAction({
      step: 'binaries',
      target: '/opt/cni/bin',
      why: 'the CNI plugins flannel chains to',
      async problems(env) {
        const missing: string[] = [];
        for (const name of EXPECTED_CNI) if (!(await isExecutable(inRoot(env.root, `/opt/cni/bin/${name}`)))) missing.push(name);
        return missing.length === 0 ? [] : [`CNI plugins missing from /opt/cni/bin: ${missing.join(', ')}`];
      },
      hint,
      onApply: 'warn',
    }),
  ];
}

export const binariesStep: StepCode = {
  async plan(context) {
    const files = installableFiles(context);
    if (context.document?.fetch === undefined) return expectedWithoutDocument();
    if (files.length === 0) return [];
    const root = bundleRoot(context.document, context.options.bundleDir);
    return files.map((file): Action => {
      const install = file.install!;
      const source = resolveInRoot(root, file.path);
      const why = file.note ?? `${file.name}${file.version ? ` ${file.version}` : ''} from the bundle`;
      if (install.extractTo !== undefined) {
        return extractArchiveAction({
          step: 'binaries',
          source,
          sourceLabel: file.path,
          sha256: file.sha256,
          extractTo: install.extractTo,
          members: install.members,
          mode: install.mode === undefined ? undefined : parseMode(install.mode, 0o755),
          why,
        });
      }
      return installFileAction({
        step: 'binaries',
        source,
        sourceLabel: file.path,
        sha256: file.sha256,
        path: install.path ?? `/usr/local/bin/${file.name}`,
        mode: parseMode(install.mode, file.kind === 'binary' ? 0o755 : 0o644),
        why,
      });
    });
  },
};
