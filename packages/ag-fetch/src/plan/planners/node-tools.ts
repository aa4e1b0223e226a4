import { UsageError, type FileArtifact, type FileInstall } from '@ag/core';
import { checksummedFile, type Planner } from '../context.js';
import { crictlUnavailable, k9sAsset, k9sChecksumFile } from '../conventions.js';
import type { Architecture } from '../request.js';

const RELEASES = 'https://github.com';

/** How upstream publishes one node tool: the archive, its checksum file, and how it installs. */
interface ToolSpec {
  name: 'crictl' | 'cni-plugins' | 'helm' | 'k9s';
  asset(version: string, arch: Architecture): string;
  url(version: string, asset: string): string;
  checksumUrl(version: string, url: string): string;
  /** Why upstream publishes no such file for this version and architecture, if it does not. */
  unavailable?(version: string, arch: Architecture): string | undefined;
  /** The bundle's name for it, when upstream's carries no version. */
  bundleName?(version: string, arch: Architecture): string;
  install(arch: Architecture): FileInstall;
}

const TOOLS: readonly ToolSpec[] = [
  {
    name: 'crictl',
    asset: (v, arch) => `crictl-${v}-linux-${arch}.tar.gz`,
    url: (v, asset) => `${RELEASES}/kubernetes-sigs/cri-tools/releases/download/${v}/${asset}`,
    checksumUrl: (_v, url) => `${url}.sha256`,
    unavailable: crictlUnavailable,
    install: () => ({ extractTo: '/usr/local/bin', members: ['crictl'] }),
  },
  {
    name: 'cni-plugins',
    asset: (v, arch) => `cni-plugins-linux-${arch}-${v}.tgz`,
    url: (v, asset) => `${RELEASES}/containernetworking/plugins/releases/download/${v}/${asset}`,
    checksumUrl: (_v, url) => `${url}.sha256`,
    install: () => ({ extractTo: '/opt/cni/bin' }),
  },
  {
    name: 'helm',
    asset: (v, arch) => `helm-${v}-linux-${arch}.tar.gz`,
    url: (_v, asset) => `https://get.helm.sh/${asset}`,
    checksumUrl: (_v, url) => `${url}.sha256sum`,
    // The member path carries the arch: extracting the wrong archive fails instead of installing a stale helm.
    install: (arch) => ({ extractTo: '/usr/local/bin', members: [`linux-${arch}/helm`] }),
  },
  {
    name: 'k9s',
    asset: k9sAsset,
    url: (v, asset) => `${RELEASES}/derailed/k9s/releases/download/${v}/${asset}`,
    checksumUrl: (v) => `${RELEASES}/derailed/k9s/releases/download/${v}/${k9sChecksumFile(v)}`,
    // Upstream's asset name has no version; the bundle's does, so two versions never share a path.
    bundleName: (v, arch) => `k9s-${v}-linux-${arch}.tar.gz`,
    install: () => ({ extractTo: '/usr/local/bin', members: ['k9s'] }),
  },
];

/** crictl, the CNI plugins, helm and k9s, per architecture, each with its upstream checksum. */
export const nodeToolsPlanner: Planner = {
  name: 'node-tools',
  async plan(context) {
    const files: Promise<FileArtifact>[] = context.request.architectures.flatMap((arch) =>
      TOOLS.map((tool) => {
        const version = context.components[tool.name]!;
        const unavailable = tool.unavailable?.(version, arch);
        if (unavailable !== undefined) {
          throw new UsageError(`planning ${tool.name} ${version} for ${arch}: ${unavailable}`, {
            hint: `leave ${arch} out (--arch), or pin a release that has it with --component ${tool.name}=VERSION`,
          });
        }
        const asset = tool.asset(version, arch);
        const url = tool.url(version, asset);
        return checksummedFile(context, {
          name: tool.name,
          kind: 'archive',
          arch,
          version,
          upstreamUrl: url,
          checksumUrl: tool.checksumUrl(version, url),
          assetName: asset,
          path: `files/linux/${arch}/${tool.bundleName?.(version, arch) ?? asset}`,
          install: tool.install(arch),
        });
      }),
    );
    return { files: await Promise.all(files) };
  },
};
