import { containerdSupported, UsageError, type FileArtifact } from '@ag/core';
import runtimeTable from '../../../data/container-runtime.json' with { type: 'json' };
import { checksummedFile, pinnedTextFile, type Planner } from '../context.js';
import { containerdAsset, containerdUnavailable, runcAsset } from '../conventions.js';
import type { PlanRequest } from '../request.js';
import { minorOf } from '../semver.js';
import type { VersionSource } from '../version-source.js';
import { DATA_FILES } from '../versions.js';

const RELEASES = 'https://github.com';

interface RuntimeRow {
  containerd: string;
  runc: string;
  sources: { containerd: string; runc: string };
  note?: string;
}
const ROWS = runtimeTable.minors as Record<string, RuntimeRow | undefined>;

/** Where containerd and runc land: containerd's docs/getting-started.md, "Option 1: From the official binaries". */
export const RUNTIME_PATHS = {
  bin: '/usr/local/bin',
  runc: '/usr/local/sbin/runc',
  unit: '/usr/local/lib/systemd/system/containerd.service',
} as const;

/** containerd and runc for this request: `--component` first, then the table's row for the Kubernetes minor. */
export function runtimeVersions(request: PlanRequest): { versions: { containerd: string; runc: string }; sources: Record<string, VersionSource> } {
  const minor = minorOf(request.kubernetesVersion);
  const row = ROWS[minor];
  const sources: Record<string, VersionSource> = {};
  const pick = (name: 'containerd' | 'runc'): string => {
    const flag = request.components[name];
    if (flag !== undefined) {
      sources[name] = { from: 'flag', detail: `--component ${name}=${flag}` };
      return flag.startsWith('v') ? flag : `v${flag}`;
    }
    if (row === undefined) {
      throw new UsageError(`--containerd upstream: ${DATA_FILES.containerRuntime} has no ${name} for Kubernetes ${minor} (it knows ${Object.keys(ROWS).join(', ')}, checked ${runtimeTable.checked})`, {
        hint: `name the releases: --component containerd=VERSION --component runc=VERSION (containerd's RELEASES.md, "Kubernetes Support", says which containerd suits ${minor})`,
      });
    }
    sources[name] = { from: 'table', detail: `${DATA_FILES.containerRuntime}, Kubernetes ${minor}: ${row.sources[name]}`, checked: runtimeTable.checked };
    return row[name];
  };
  return { versions: { containerd: pick('containerd'), runc: pick('runc') }, sources };
}

/** Refuses a containerd the cluster's release does not support, here rather than at the far side's preflight. */
function refuseUnsupported(kubernetesVersion: string, containerd: string): void {
  const minor = minorOf(kubernetesVersion);
  const verdict = containerdSupported(minor, containerd.replace(/^v/, ''));
  if ('supported' in verdict && !verdict.supported) {
    throw new UsageError(`planning containerd ${containerd} for Kubernetes ${kubernetesVersion}: ${verdict.why}`, {
      hint: `the far side's ag-kubeadm preflight would refuse it after the trip: leave --component containerd out (the table's release suits ${minor}) or name a supported one`,
    });
  }
}

/**
 * containerd, runc and containerd.service from their upstream releases, per
 * architecture, with `--containerd upstream`: what a Kubernetes release
 * newer than the OS's containerd supports needs (Kubernetes 1.36 wants
 * containerd 2.2 or newer; Debian 12 ships 1.6). ag-nodeprep installs them
 * where containerd's getting-started guide puts them (RUNTIME_PATHS), and
 * the OS packages planner leaves the OS's own containerd and runc out.
 */
export const containerRuntimePlanner: Planner = {
  name: 'container-runtime',
  async plan(context) {
    const { request } = context;
    if (request.containerd !== 'upstream') return {};
    const { versions, sources } = runtimeVersions(request);
    const { containerd, runc } = versions;
    refuseUnsupported(request.kubernetesVersion, containerd);
    const containerdReleases = `${RELEASES}/containerd/containerd/releases/download/${containerd}`;
    const runcReleases = `${RELEASES}/opencontainers/runc/releases/download/${runc}`;
    const perArch = request.architectures.flatMap((arch): Promise<FileArtifact>[] => {
      const unavailable = containerdUnavailable(containerd, arch);
      if (unavailable !== undefined) {
        throw new UsageError(`planning containerd ${containerd} for ${arch}: ${unavailable}`, { hint: `leave ${arch} out (--arch), or plan with --containerd os` });
      }
      const archive = containerdAsset(containerd, arch);
      const binary = runcAsset(arch);
      return [
        checksummedFile(context, {
          name: 'containerd',
          kind: 'archive',
          arch,
          version: containerd,
          upstreamUrl: `${containerdReleases}/${archive}`,
          checksumUrl: `${containerdReleases}/${archive}.sha256sum`,
          path: `files/linux/${arch}/${archive}`,
          install: { extractTo: RUNTIME_PATHS.bin, members: ['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/ctr'] },
        }),
        checksummedFile(context, {
          name: 'runc',
          kind: 'binary',
          arch,
          version: runc,
          upstreamUrl: `${runcReleases}/${binary}`,
          checksumUrl: `${runcReleases}/runc.sha256sum`,
          assetName: binary,
          // Upstream's name has no version; the bundle's does, so two versions never share a path.
          path: `files/linux/${arch}/runc-${runc}.${arch}`,
          install: { path: RUNTIME_PATHS.runc, mode: '0755' },
        }),
      ];
    });
    const unit = pinnedTextFile(context, {
      name: 'containerd.service',
      kind: 'systemd-unit',
      version: containerd,
      upstreamUrl: `https://raw.githubusercontent.com/containerd/containerd/${containerd}/containerd.service`,
      path: `files/systemd/containerd-${containerd}.service`,
      install: { path: RUNTIME_PATHS.unit, mode: '0644' },
      note: 'containerd from its release archive: upstream says /usr/local/bin/containerd, where ag-nodeprep installs it',
    });
    const files = await Promise.all([...perArch, unit.then((u) => u.artifact)]);
    return { files, components: versions, versionSources: sources };
  },
};
