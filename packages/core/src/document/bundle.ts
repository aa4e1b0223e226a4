import { Type, type Static } from '@sinclair/typebox';
import { RelativePath, Sha256Hex, Timestamp } from './common.js';

/** One part of a split bundle (`FILE.tar.000`…): a plain byte range of the archive. */
export const BundlePart = Type.Object({
  file: Type.String({ description: 'the part file name, e.g. bundle.tar.003' }),
  size: Type.Integer({ minimum: 0 }),
  sha256: Sha256Hex,
});
export type BundlePart = Static<typeof BundlePart>;

/**
 * An ag tool file carried in the bundle's `tools/`: the single executable
 * `tools/<arch>/ag` (every tool, Node.js built in), or a tool's
 * `tools/ag-<tool>.mjs` for a host with its own Node.js, or a man page or
 * completion script under `tools/share/` (ag-nodeprep installs those).
 */
export const BundleTool = Type.Object({
  name: Type.String({ description: 'ag (the executable with every tool), e.g. ag-bundle (a .mjs file), or e.g. man/man1/ag-bundle.1 (under tools/share/)' }),
  path: RelativePath,
  sha256: Sha256Hex,
  size: Type.Integer({ minimum: 0 }),
  arch: Type.Optional(Type.String({ description: "the executable's architecture: amd64 or arm64" })),
  node: Type.Optional(Type.String({ description: 'the Node.js version built into the executable, e.g. v24.22.3' })),
});
export type BundleTool = Static<typeof BundleTool>;

/** A file the far side already has, so a delta bundle lists it in SHA256SUMS but does not carry it. */
export const BundleReused = Type.Object({
  path: RelativePath,
  /** Where the far side has the same bytes, when not at `path` (a file that moved). */
  from: Type.Optional(RelativePath),
});
export type BundleReused = Static<typeof BundleReused>;

/** Files and bytes under one top-level directory of the bundle (`images`, `files`, `packages`, `tools`, `.` for the root). */
export const BundleCategory = Type.Object({
  files: Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
});

/** An earlier bundle, by its id and the sha256 of its SHA256SUMS (which is what the far side's unpacked tree holds). */
export const BundleRef = Type.Object({
  id: Type.String({ description: 'the bundle id, <site>#<sequence>' }),
  sumsSha256: Sha256Hex,
});
export type BundleRef = Static<typeof BundleRef>;

/**
 * Set when the bundle was packed for a site (`pack --site NAME`): its place
 * in the site's ledger on the connected side, and every earlier bundle it
 * needs the far side to hold (a one-way link carries no inventory back).
 */
export const BundleSite = Type.Object({
  name: Type.String({ description: 'the site, e.g. plant-a' }),
  id: Type.String({ description: 'this bundle: <site>#<sequence>' }),
  sequence: Type.Integer({ minimum: 1, description: "this bundle's line in the site's ledger" }),
  /** Every earlier bundle this one builds on, oldest first; the last is the one it is a delta of. Empty for a complete bundle. */
  builtOn: Type.Array(BundleRef),
});
export type BundleSite = Static<typeof BundleSite>;

/** One finding a scanner reported for an item (a signature name, a CVE id, or `<scanner>:exit-N`). */
export const ScanFinding = Type.Object({
  id: Type.String(),
  detail: Type.Optional(Type.String()),
});
export type ScanFinding = Static<typeof ScanFinding>;

/** One item (a file of the bundle root, or an image) as one scanner saw it. */
export const ScannedItem = Type.Object({
  kind: Type.Union([Type.Literal('file'), Type.Literal('image')]),
  name: Type.String({ description: 'the file path relative to the bundle root, or the image reference' }),
  digest: Type.String({ description: 'sha256:<hex> of the file, or the image digest: a changed item counts as not scanned' }),
  scanner: Type.String({ description: 'the scanner command and its version line' }),
  database: Type.Optional(Type.String({ description: "the scanner's database version, as it reported it or as --database-version said" })),
  result: Type.Union([Type.Literal('clean'), Type.Literal('found'), Type.Literal('error')]),
  findings: Type.Optional(Type.Array(ScanFinding)),
  scannedAt: Timestamp,
});
export type ScannedItem = Static<typeof ScannedItem>;

/** The `scan` section: owned by `ag-bundle scan`; `pack --require-scan` checks the bundle against it. */
export const ScanSection = Type.Object({
  items: Type.Array(ScannedItem),
});
export type ScanSection = Static<typeof ScanSection>;

/** A finding the operator let cross (`pack --accept ID --reason TEXT`). */
export const AcceptedFinding = Type.Object({
  id: Type.String(),
  /** The items it was found in. */
  items: Type.Array(Type.String()),
  reason: Type.String({ minLength: 1 }),
  acceptedAt: Timestamp,
});
export type AcceptedFinding = Static<typeof AcceptedFinding>;

/**
 * The `bundle` section: owned by ag-bundle. `pack` writes it (the copy inside
 * the bundle's bundle.json lacks what is only known once the archive is
 * written: `sha256` and `parts`); `unpack` adds `unpackedAt` and sets the
 * document's `root` to where it unpacked.
 */
export const BundleSection = Type.Object({
  /** The bundle file's name (for a split bundle, the name the joined parts have). */
  file: Type.String(),
  /** The archive's size in bytes (the sum of the parts'). */
  size: Type.Integer({ minimum: 0 }),
  /** SHA-256 of the whole archive (of the joined parts). */
  sha256: Type.Optional(Sha256Hex),
  parts: Type.Optional(Type.Array(BundlePart)),
  /** The size every part but the last has. */
  partSize: Type.Optional(Type.Integer({ minimum: 1 })),
  /** The signed list of parts (`<file>.parts`, signature `<file>.parts.sig`). */
  partsList: Type.Optional(Type.String()),
  signed: Type.Boolean(),
  signatureAlgorithm: Type.Optional(Type.Union([Type.Literal('ecdsa-p256-sha256'), Type.Literal('ed25519')])),
  /** SHA-256 of the signing public key's DER SubjectPublicKeyInfo. */
  keyFingerprint: Type.Optional(Sha256Hex),
  /** What the bundle holds: every file SHA256SUMS lists (reused ones included), by top-level directory. */
  contents: Type.Optional(
    Type.Object({
      files: Type.Integer({ minimum: 0 }),
      bytes: Type.Integer({ minimum: 0 }),
      categories: Type.Record(Type.String(), BundleCategory),
    }),
  ),
  /** The ag tools carried inside, to run on the far side. */
  tools: Type.Optional(Type.Array(BundleTool)),
  /** Set when the bundle holds only what an inventory of the far side lacks. */
  delta: Type.Optional(
    Type.Object({
      /** The inventory file's name as given to `pack --have` (unset for a delta of the site's last bundle). */
      inventory: Type.Optional(Type.String()),
      inventorySha256: Type.Optional(Sha256Hex),
      /** The bundle this is a delta of (`pack --site`): what the far side holds once every earlier bundle arrived. */
      base: Type.Optional(Type.String({ description: 'the bundle id, <site>#<sequence>' })),
      /** When the far side took the inventory. */
      inventoryCreatedAt: Type.Optional(Timestamp),
      /** Files listed in SHA256SUMS but not carried: unpack takes them from what the far side has. */
      reused: Type.Array(BundleReused),
      reusedBytes: Type.Integer({ minimum: 0 }),
    }),
  ),
  site: Type.Optional(BundleSite),
  /** Set by `pack --require-scan`: every item was scanned clean, or its findings are here, accepted with a reason. */
  scanGate: Type.Optional(Type.Object({ required: Type.Literal(true), items: Type.Integer({ minimum: 0 }), accepted: Type.Array(AcceptedFinding) })),
  packedAt: Type.Optional(Timestamp),
  unpackedAt: Type.Optional(Timestamp),
});
export type BundleSection = Static<typeof BundleSection>;
