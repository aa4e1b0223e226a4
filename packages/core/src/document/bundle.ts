import { Type, type Static } from '@sinclair/typebox';
import { RelativePath, Sha256Hex } from './common.js';

export const BundlePart = Type.Object({
  file: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  sha256: Sha256Hex,
});

/** The `bundle` section: owned by ag-bundle. */
export const BundleSection = Type.Object({
  /** The bundle file's name (or the common stem of its parts). */
  file: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  sha256: Type.Optional(Sha256Hex),
  parts: Type.Optional(Type.Array(BundlePart)),
  signed: Type.Boolean(),
  /** SHA-256 of the signing public key's DER SubjectPublicKeyInfo. */
  keyFingerprint: Type.Optional(Sha256Hex),
  /** The ag tools carried inside, to run on the far side. */
  tools: Type.Optional(Type.Array(Type.Object({ name: Type.String(), path: RelativePath, sha256: Sha256Hex, size: Type.Integer() }))),
  /** Set when the bundle holds only what an inventory of the far side lacks. */
  delta: Type.Optional(Type.Object({ inventory: Type.String(), inventorySha256: Sha256Hex })),
  packedAt: Type.Optional(Type.String()),
  unpackedAt: Type.Optional(Type.String()),
});
export type BundleSection = Static<typeof BundleSection>;
