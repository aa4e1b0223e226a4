import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

/** The platform of a manifest, as an index entry or a config names it (image-spec image-index.md). */
export interface ImagePlatform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** A content descriptor (image-spec descriptor.md): what a blob is, its digest and size. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: ImagePlatform;
  artifactType?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Whether `value` is a sha256 digest ag can store (`sha256:<64 hex>`). */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/** The hex part of a sha256 digest; throws a UsageError for anything else (other algorithms included). */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) {
    throw new UsageError(`${JSON.stringify(digest)} is not a sha256 digest (sha256:<64 lowercase hex digits>)`);
  }
  return digest.slice(7);
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The descriptor of some bytes (a manifest, an index, a config). */
export function descriptorOf(bytes: Uint8Array, mediaType: string): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length };
}

/** A short form for messages: `sha256:0123456789ab`. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 19);
}
