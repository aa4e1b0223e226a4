import { OciLayout, formatPlatform, walkImages, type ImagePlatform, type StoredImage } from '@ag/core';
import { UPSTREAM_DIGEST_ANNOTATION } from './pull.js';

/** One image in a layout, as `list` shows it. */
export interface LayoutImage extends StoredImage {
  /** Bytes stored for this image (each blob once; shared blobs count for every image holding them). */
  size: number;
  /** Non-distributable layers referenced but not stored. */
  foreignLayers: number;
}

/**
 * Describes every named image of a layout: its digest, media type, platforms
 * (from the index, or a single manifest's config), stored size, and whether
 * only some of upstream's platforms were kept. Reads manifests and configs
 * only; never hashes layers (verify does that).
 */
export async function listImages(layoutDir: string): Promise<LayoutImage[]> {
  const layout = await OciLayout.open(layoutDir);
  const images: LayoutImage[] = [];
  for (const entry of await layout.entries()) {
    if (entry.ref === undefined) continue;
    const graph = await walkImages(layout, [entry.descriptor]);
    const top = graph.manifests.get(entry.descriptor.digest);
    const manifests: StoredImage['manifests'] = [];
    if (top?.kind === 'index') {
      for (const child of top.index.manifests) {
        manifests.push({ platform: child.platform ? formatPlatform(child.platform) : 'unknown/unknown', digest: child.digest, mediaType: child.mediaType, size: child.size });
      }
    } else if (top?.kind === 'manifest') {
      const config = top.manifest.config;
      let platform = 'unknown/unknown';
      try {
        const json = JSON.parse((await layout.readBytes(config)).toString('utf8')) as Partial<ImagePlatform>;
        if (json.os && json.architecture) platform = formatPlatform(json as ImagePlatform);
      } catch {
        // An unreadable config: verify reports it.
      }
      manifests.push({ platform, digest: entry.descriptor.digest, mediaType: entry.descriptor.mediaType, size: entry.descriptor.size });
    }
    let size = 0;
    for (const d of graph.descriptors.values()) size += (await layout.blobSize(d.digest)) ?? 0;
    const upstream = entry.descriptor.annotations?.[UPSTREAM_DIGEST_ANNOTATION];
    images.push({
      ref: entry.ref,
      digest: entry.descriptor.digest,
      mediaType: entry.descriptor.mediaType,
      upstreamDigest: upstream ?? entry.descriptor.digest,
      partial: upstream !== undefined,
      manifests,
      size,
      foreignLayers: graph.foreign.length,
    });
  }
  return images;
}
