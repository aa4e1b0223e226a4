import {
  MissingError,
  OciLayout,
  formatCommand,
  formatPlatform,
  formatReference,
  hostPlatform,
  parsePlatform,
  parseReference,
  selectPlatforms,
  silentLogger,
  walkImages,
  type Descriptor,
  type Io,
  type Logger,
  type PlatformSpec,
} from '@ag/core';
import { importIntoContainerd } from '@ag/core/containerd-import';

/** containerd's socket where distributions put it. */
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';

export interface ImportOptions {
  layoutDir: string;
  /** Full references to import (default: every named image). */
  refs?: string[];
  /**
   * The operator named these images (on the command line): one with nothing
   * for the platform is refused before anything is imported, rather than
   * skipped with a line as the images of a document or a whole layout are.
   */
  named?: boolean;
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
  /** Images left out: nothing of them for the platform imported. */
  skipped: Array<{ ref: string; why: string }>;
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
 *
 * An index with no stored manifest for the platform imported (the host's,
 * or `platform`) would make ctr fail part-way ("no match for platform in
 * manifest"): such an image is skipped with a line naming it, or, when the
 * operator named it, refused before anything is imported.
 */
export async function importImages(options: ImportOptions): Promise<ImportResult> {
  const log = options.log ?? silentLogger;
  const layout = await OciLayout.open(options.layoutDir);
  const entries = (await layout.entries()).filter((e): e is { ref: string; descriptor: Descriptor } => e.ref !== undefined);
  const wanted = options.refs?.map((r) => formatReference(parseReference(r)));
  const listed = wanted === undefined ? entries : entries.filter((e) => wanted.includes(e.ref));
  const missing = (wanted ?? []).filter((ref) => !listed.some((e) => e.ref === ref));
  if (missing.length > 0) throw new MissingError(`${missing.join(', ')} not in the layout ${layout.dir}`, { hint: 'see ag-images list' });
  if (listed.length === 0) throw new MissingError(`the layout ${layout.dir} names no images`, { hint: 'pull images into it first' });

  const skipped: ImportResult['skipped'] = [];
  const chosen: typeof listed = [];
  const platform = options.allPlatforms ? undefined : options.platform !== undefined ? parsePlatform(options.platform) : hostPlatform();
  for (const entry of listed) {
    const why = platform === undefined ? undefined : await lacksPlatform(layout, entry.descriptor, platform);
    if (why === undefined) chosen.push(entry);
    else skipped.push({ ref: entry.ref, why });
  }
  const retry = `import it with --platform for one it has, or --all-platforms, or pull ${platform === undefined ? 'it' : formatPlatform(platform)} into the layout`;
  if (options.named && skipped.length > 0) {
    throw new MissingError(`${skipped.map((s) => `${s.ref} ${s.why}`).join('; ')}; nothing was imported`, { hint: retry });
  }
  for (const s of skipped) log.warn(`skipping ${s.ref}: it ${s.why}`);
  if (chosen.length === 0) {
    throw new MissingError(`none of the ${listed.length} image(s) has content for ${formatPlatform(platform!)} in the layout ${layout.dir}`, { hint: retry });
  }

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
  const result: ImportResult = { images: chosen.map((e) => ({ ref: e.ref, digest: e.descriptor.digest })), skipped, command, blobs: files.length, bytes };
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
    platformHint: 'an image has no content for the platform imported: import with --platform for one it has, or --all-platforms',
    missingHint: 'install containerd (it ships ctr), or pass --ctr PATH',
  });
  return result;
}

/**
 * Why ctr would find nothing of an image for `platform`: an index none of
 * whose stored manifests is for it. Undefined when it has one, and for a
 * single manifest (ctr imports that whatever its platform).
 */
async function lacksPlatform(layout: OciLayout, descriptor: Descriptor, platform: PlatformSpec): Promise<string | undefined> {
  const { parsed } = await layout.readManifest(descriptor);
  if (parsed.kind !== 'index') return undefined;
  const stored: Descriptor[] = [];
  for (const child of parsed.index.manifests) if (await layout.hasBlob(child)) stored.push(child);
  if (selectPlatforms(stored, [platform]).selected.length > 0) return undefined;
  const has = stored.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
  return `has no ${formatPlatform(platform)} content in the layout (it has ${has || 'no platform manifest'})`;
}
