import { UsageError, VerificationError } from '../errors.js';
import { isDigest, type Descriptor } from './descriptor.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from './media-types.js';

/** An image index or Docker manifest list (image-spec image-index.md). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A single-platform image manifest, OCI or Docker v2 schema 2 (image-spec manifest.md). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A parsed manifest or index, with the media type it was served or stored as. */
export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest };

/** The most a manifest may weigh; larger ones are refused (containerd and distribution use 4 MiB too). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function checkDescriptor(value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (d === null || typeof d !== 'object') throw new VerificationError(`${where}: not a descriptor`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new VerificationError(`${where}: mediaType is missing`);
  if (!isDigest(d.digest)) {
    throw new VerificationError(`${where}: digest ${JSON.stringify(d.digest)} is not a sha256 digest`, {
      hint: 'ag stores sha256 content only',
    });
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw new VerificationError(`${where}: size ${JSON.stringify(d.size)} is not a non-negative integer`);
  }
  return d as Descriptor;
}

/**
 * Parses manifest or index bytes, deciding which by the media type in the
 * document, else the one it was served or stored as (`hint`), else its shape.
 * Checks what ag relies on (schemaVersion 2, well-formed descriptors); refuses
 * Docker schema 1. Never re-serialises: callers keep the original bytes, since
 * the digest is of those bytes.
 */
export function parseManifest(bytes: Uint8Array, hint?: string, where = 'manifest'): ParsedManifest {
  if (hint === MediaType.dockerManifestV1 || hint === MediaType.dockerManifestV1Signed) {
    throw new UsageError(`${where}: Docker schema 1 manifests are not supported`, {
      hint: 'schema 1 was retired in 2019; re-push the image with a current client',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new VerificationError(`${where}: not valid JSON (${(error as Error).message})`);
  }
  const object = value as Record<string, unknown> | null;
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw new VerificationError(`${where}: not a JSON object`);
  if (object['schemaVersion'] === 1) {
    throw new UsageError(`${where}: Docker schema 1 manifests are not supported`, {
      hint: 'schema 1 was retired in 2019; re-push the image with a current client',
    });
  }
  if (object['schemaVersion'] !== 2) throw new VerificationError(`${where}: schemaVersion is ${JSON.stringify(object['schemaVersion'])}, not 2`);
  const declared = typeof object['mediaType'] === 'string' ? object['mediaType'] : undefined;
  const mediaType =
    declared ??
    (hint !== undefined && (isIndexMediaType(hint) || isManifestMediaType(hint))
      ? hint
      : Array.isArray(object['manifests'])
        ? MediaType.ociIndex
        : MediaType.ociManifest);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(object['manifests'])) throw new VerificationError(`${where}: an index without "manifests"`);
    object['manifests'].forEach((entry, i) => checkDescriptor(entry, `${where}: manifests[${i}]`));
    if (object['subject'] !== undefined) checkDescriptor(object['subject'], `${where}: subject`);
    return { kind: 'index', mediaType, index: object as unknown as ImageIndex };
  }
  if (isManifestMediaType(mediaType)) {
    checkDescriptor(object['config'], `${where}: config`);
    if (!Array.isArray(object['layers'])) throw new VerificationError(`${where}: a manifest without "layers"`);
    object['layers'].forEach((entry, i) => checkDescriptor(entry, `${where}: layers[${i}]`));
    if (object['subject'] !== undefined) checkDescriptor(object['subject'], `${where}: subject`);
    return { kind: 'manifest', mediaType, manifest: object as unknown as ImageManifest };
  }
  throw new UsageError(`${where}: media type ${JSON.stringify(mediaType)} is neither an image manifest nor an index`, {
    hint: 'ag stores OCI and Docker v2 images; other artifacts are not supported yet',
  });
}

/**
 * The descriptors a manifest or index points at: an index's manifests, or a
 * manifest's config and layers. `subject` is a back-reference (referrers API),
 * not content the image needs, so it is left out.
 */
export function childDescriptors(parsed: ParsedManifest): Descriptor[] {
  return parsed.kind === 'index' ? parsed.index.manifests : [parsed.manifest.config, ...parsed.manifest.layers];
}

/** Whether a descriptor points at a manifest or an index (something to parse and descend into). */
export function isManifestDescriptor(descriptor: Descriptor): boolean {
  return isIndexMediaType(descriptor.mediaType) || isManifestMediaType(descriptor.mediaType);
}
