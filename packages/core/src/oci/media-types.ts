/**
 * The media types ag reads and writes, OCI image-spec and Docker's image
 * manifest v2 schema 2. Both families pass through unchanged: ag never
 * converts one into the other, since that would change every digest.
 */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociNondistributableLayer: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociNondistributableLayerGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociNondistributableLayerZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociLayout: 'application/vnd.oci.layout.header.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Schema 1: refused, it cannot be stored without re-signing. */
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

/** Index (manifest list) media types. */
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList];
/** Single-platform manifest media types. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.dockerManifest];

/** The Accept header for a manifest request: every type ag can store, indexes first. */
export const MANIFEST_ACCEPT: string = [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES].join(', ');

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_MEDIA_TYPES.includes(mediaType);
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && MANIFEST_MEDIA_TYPES.includes(mediaType);
}

/**
 * Whether a layer is non-distributable ("foreign"): old Windows base layers,
 * which registries and layouts leave as references to their `urls`
 * (image-spec layer.md, "Non-Distributable Layers"; Docker's foreign layer).
 */
export function isNondistributable(mediaType: string | undefined): boolean {
  return (
    mediaType === MediaType.dockerForeignLayer ||
    (mediaType !== undefined && mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.'))
  );
}
