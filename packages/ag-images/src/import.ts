import {
  MissingError,
  OciLayout,
  formatCommand,
  formatReference,
  parseReference,
  silentLogger,
  walkImages,
  type Descriptor,
  type Io,
  type Logger,
} from '@ag/core';
import { importIntoContainerd } from '@ag/core/containerd-import';

/** containerd's socket where distributions put it. */
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';

export interface ImportOptions {
  layoutDir: string;
  /** Full references to import (default: every named image). */
  refs?: string[];
  /** containerd's socket (default /run/containerd/containerd.sock). */
  address?: string;
  /** containerd namespace (default k8s.io, where the kubelet's CRI looks). */
  namespace?: string;
  /** Import content for every platform, not only the host's (`ctr … --all-platforms`). */
  allPlatforms?: boolean;
  /** Import content for this platform (`ctr … --platform`). */
  platform?: string;
  /** The ctr binary (default `ctr` on PATH). */
  ctr?: string;
  dryRun?: boolean;
  env: Io['env'];
  stderr: Io['stderr'];
  log?: Logger;
}

export interface ImportResult {
  images: Array<{ ref: string; digest: string }>;
  /** The ctr command line run (or that would run). */
  command: string;
  blobs: number;
  bytes: number;
}

/**
 * Loads images from the layout into containerd with `ctr images import`, for
 * hosts that take images without a registry (kubeadm's own images can be
 * preloaded this way). Streams a tar of just the chosen images (an OCI
 * layout whose index.json names each by its full reference, which ctr keeps
 * as the image name) into ctr's stdin; no tar file is written. Foreign layers
 * that are not stored are left out (containerd fetches nothing for them).
 */
export async function importImages(options: ImportOptions): Promise<ImportResult> {
  const log = options.log ?? silentLogger;
  const layout = await OciLayout.open(options.layoutDir);
  const entries = (await layout.entries()).filter((e): e is { ref: string; descriptor: Descriptor } => e.ref !== undefined);
  const wanted = options.refs?.map((r) => formatReference(parseReference(r)));
  const chosen = wanted === undefined ? entries : entries.filter((e) => wanted.includes(e.ref));
  const missing = (wanted ?? []).filter((ref) => !chosen.some((e) => e.ref === ref));
  if (missing.length > 0) throw new MissingError(`${missing.join(', ')} not in the layout ${layout.dir}`, { hint: 'see ag-images list' });
  if (chosen.length === 0) throw new MissingError(`the layout ${layout.dir} names no images`, { hint: 'pull images into it first' });

  const graph = await walkImages(
    layout,
    chosen.map((e) => e.descriptor),
  );
  const files: string[] = [];
  let bytes = 0;
  for (const descriptor of graph.descriptors.values()) {
    if (graph.foreign.some((f) => f.digest === descriptor.digest)) continue;
    files.push(`blobs/sha256/${descriptor.digest.slice(7)}`);
    bytes += descriptor.size;
  }
  files.sort();
  const args = [
    '--address',
    options.address ?? DEFAULT_CONTAINERD_ADDRESS,
    '--namespace',
    options.namespace ?? 'k8s.io',
    'images',
    'import',
    ...(options.allPlatforms ? ['--all-platforms'] : []),
    ...(options.platform ? ['--platform', options.platform] : []),
    '-',
  ];
  const ctr = options.ctr ?? 'ctr';
  const command = formatCommand(ctr, args);
  const result: ImportResult = { images: chosen.map((e) => ({ ref: e.ref, digest: e.descriptor.digest })), command, blobs: files.length, bytes };
  if (options.dryRun) return result;

  log.info(`importing ${chosen.length} image(s) into containerd (${command})`);
  await importIntoContainerd({
    blobsDir: layout.blobDir.replace(/\/sha256$/, ''),
    images: chosen.map(({ ref, descriptor }) => ({ ref, digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size })),
    blobs: files,
    ctr,
    args,
    io: { env: options.env, stderr: options.stderr },
    hint: 'is containerd running, and --address its socket? (ctr needs root)',
    missingHint: 'install containerd (it ships ctr), or pass --ctr PATH',
  });
  return result;
}
