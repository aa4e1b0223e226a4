import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingError, runProgram, type Io, type StoredImage } from '@ag/core';
import { importIntoContainerd } from '@ag/core/containerd-import';

export interface PreloadOptions {
  /** The OCI image layout (absolute). */
  layout: string;
  images: readonly Pick<StoredImage, 'ref' | 'digest' | 'mediaType'>[];
  /** containerd's socket. */
  address: string;
  /** The node's platform, `linux/amd64`. */
  platform: string;
  namespace?: string;
  io: Pick<Io, 'env' | 'stderr'>;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os: string; architecture: string; variant?: string };
}

function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', ...digest.split(':'));
}

async function readJson(layout: string, digest: string): Promise<{ manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }> {
  try {
    return JSON.parse(await readFile(blobPath(layout, digest), 'utf8'));
  } catch (error) {
    throw new MissingError(`blob ${digest} is not in the layout ${layout}: ${(error as Error).message}`, { hint: 'run ag-images pull again, or ag-bundle verify' });
  }
}

/**
 * The blobs one image needs on one platform: its index (if any), the
 * platform's manifest, config and layers. Foreign layers (Windows) are never
 * on a Linux node's path.
 */
async function closure(layout: string, image: Pick<StoredImage, 'digest' | 'ref'>, platform: string): Promise<string[]> {
  const [os, architecture, variant] = platform.split('/');
  const blobs = [image.digest];
  let manifest = image.digest;
  const top = await readJson(layout, image.digest);
  if (top.manifests !== undefined) {
    const match = top.manifests.find((m) => m.platform?.os === os && m.platform?.architecture === architecture && (variant === undefined || m.platform?.variant === variant));
    if (match === undefined) throw new MissingError(`${image.ref} has no ${platform} image in the layout`, { hint: 'pull it for this platform with ag-images pull --platform' });
    manifest = match.digest;
    blobs.push(manifest);
  }
  const body = await readJson(layout, manifest);
  if (body.config) blobs.push(body.config.digest);
  for (const layer of body.layers ?? []) blobs.push(layer.digest);
  return blobs;
}

/** The references present in containerd's namespace, with the digest each points at. */
export async function containerdImages(address: string, namespace: string, io: Pick<Io, 'env' | 'stderr'>): Promise<Map<string, string>> {
  const result = await runProgram('ctr', ['--address', address, '--namespace', namespace, 'images', 'ls'], { env: io.env, stderr: io.stderr, streamStderr: false });
  const images = new Map<string, string>();
  for (const line of result.stdout.split('\n').slice(1)) {
    const [ref, , digest] = line.trim().split(/\s+/);
    if (ref && digest?.startsWith('sha256:')) images.set(ref, digest);
  }
  return images;
}

/**
 * Imports images of the bundle's layout into containerd (namespace
 * `k8s.io`, where the CRI looks), so kubeadm finds them with no registry.
 * Streams a tar of only what this platform needs, with an index.json that
 * names every image by its full upstream reference
 * (`io.containerd.image.name`), into `ctr images import -`. Never a
 * temporary copy of the layers. Returns the references it imported
 * (those already present with the same digest are skipped).
 */
export async function preloadImages(options: PreloadOptions): Promise<string[]> {
  const namespace = options.namespace ?? 'k8s.io';
  const present = await containerdImages(options.address, namespace, options.io);
  const wanted = options.images.filter((image) => present.get(image.ref) !== image.digest);
  if (wanted.length === 0) return [];
  const blobs = new Set<string>();
  const images: Array<{ ref: string; digest: string; mediaType: string; size: number }> = [];
  for (const image of wanted) {
    for (const digest of await closure(options.layout, image, options.platform)) blobs.add(`blobs/${digest.replace(':', '/')}`);
    const { size } = await stat(blobPath(options.layout, image.digest));
    images.push({ ref: image.ref, digest: image.digest, mediaType: image.mediaType, size });
  }
  await importIntoContainerd({
    blobsDir: join(options.layout, 'blobs'),
    images,
    blobs: [...blobs].sort(),
    args: ['--address', options.address, '--namespace', namespace, 'images', 'import', '--platform', options.platform, '-'],
    io: options.io,
    hint: 'is containerd running, and --containerd-address its socket?',
  });
  return wanted.map((image) => image.ref);
}
