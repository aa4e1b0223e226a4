import { Type, type Static } from '@sinclair/typebox';
import { Digest, Platform, RelativePath, Timestamp } from './common.js';

/** One platform's manifest of an image. */
export const ImagePlatformManifest = Type.Object({
  platform: Platform,
  /** The platform manifest's digest: the same upstream and in the layout, so the far side can pin by it. */
  digest: Digest,
  mediaType: Type.String(),
  size: Type.Integer({ minimum: 0 }),
});

/** One image as stored in the bundle's OCI layout. */
export const StoredImage = Type.Object({
  ref: Type.String({ description: 'the fully qualified upstream reference it was pulled from' }),
  /** The digest of what the layout's index.json points at for this image (an index or a manifest). */
  digest: Digest,
  mediaType: Type.String({ description: 'OCI or Docker v2 media type of what `digest` names, as upstream served it' }),
  /** The digest upstream served for the reference; equals `digest` unless only some platforms were kept. */
  upstreamDigest: Digest,
  /** True when only some of upstream's platforms were kept (then pin by a platform's digest). */
  partial: Type.Boolean(),
  manifests: Type.Array(ImagePlatformManifest),
  /** Set by `ag-images push`: where the image is in the internal registry (`<registry>[/<prefix>]/<upstream host>/<path>:<tag>`). */
  internalRef: Type.Optional(Type.String()),
});
export type StoredImage = Static<typeof StoredImage>;

/** The `images` section: owned by ag-images. */
export const ImagesSection = Type.Object({
  layout: Type.String({ minLength: 1, pattern: RelativePath.pattern, description: 'the OCI image layout, relative to the bundle root (default images)' }),
  platforms: Type.Array(Platform, { description: 'the platforms pulled (every stored platform after --all-platforms)' }),
  images: Type.Array(StoredImage),
  push: Type.Optional(
    Type.Object({
      registry: Type.String({ description: 'HOST[:PORT][/PREFIX] of the registry the images were last pushed to' }),
      pushedAt: Timestamp,
    }),
  ),
});
export type ImagesSection = Static<typeof ImagesSection>;
