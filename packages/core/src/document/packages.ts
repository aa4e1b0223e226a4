import { Type, type Static } from '@sinclair/typebox';
import { RelativePath, Sha256Hex, Timestamp } from './common.js';

export const PackageFormat = Type.Union([Type.Literal('deb'), Type.Literal('rpm')]);
export type PackageFormat = Static<typeof PackageFormat>;

export const PackageManager = Type.Union([Type.Literal('apt'), Type.Literal('dnf')]);
export type PackageManager = Static<typeof PackageManager>;

/** A distribution repository the closure was resolved against, recorded so that the result can be audited and reproduced. */
export const PackageSource = Type.Object({
  name: Type.String({ description: 'e.g. bookworm, bookworm-security, fedora, updates, docker-ce-stable' }),
  uri: Type.String({ description: 'the repository base URL (apt) or baseurl/metalink (dnf)' }),
  suite: Type.Optional(Type.String({ description: 'apt: the suite (codename)' })),
  components: Type.Optional(Type.Array(Type.String(), { description: 'apt: the components, e.g. main' })),
  keyring: Type.Optional(Type.String({ description: 'the keyring or GPG key that signatures were checked against' })),
});
export type PackageSource = Static<typeof PackageSource>;

/** One OS package carried in the bundle's local repository. */
export const CarriedPackage = Type.Object({
  name: Type.String(),
  version: Type.String({ description: "the OS's version string (deb: [epoch:]upstream-revision; rpm: [epoch:]version-release)" }),
  arch: Type.String({ description: "the OS's architecture name (amd64, all; x86_64, noarch)" }),
  path: RelativePath,
  sha256: Sha256Hex,
  size: Type.Integer({ minimum: 0 }),
});
export type CarriedPackage = Static<typeof CarriedPackage>;

/** A package of the full closure that was left out because the far side already has it. */
export const ExcludedPackage = Type.Object({
  name: Type.String(),
  version: Type.String({ description: 'the version the baseline has installed' }),
  arch: Type.Optional(Type.String()),
});
export type ExcludedPackage = Static<typeof ExcludedPackage>;

/** What the closure was computed against: what the far side is taken to have installed already. */
export const PackagesBaseline = Type.Object({
  kind: Type.Union([Type.Literal('minimal'), Type.Literal('inventory'), Type.Literal('status'), Type.Literal('empty')], {
    description:
      "minimal: a minimal install of the release (its required packages); inventory: the far side's `ag-nodeprep inventory`; status: a dpkg status file; empty: nothing installed, carry everything",
  }),
  detail: Type.String({ description: 'where the baseline came from' }),
  packages: Type.Integer({ minimum: 0, description: 'how many installed packages the baseline holds' }),
  sha256: Type.Optional(Sha256Hex),
});
export type PackagesBaseline = Static<typeof PackagesBaseline>;

/**
 * The `packages` section: owned by ag-fetch (plan names the packages,
 * download resolves the closure into a local repository); read by ag-nodeprep,
 * which installs `requested` from `repository` with every other repository disabled.
 */
export const PackagesSection = Type.Object({
  os: Type.String({ pattern: '^[a-z]+-[0-9.]+$', description: 'the OS release the packages are for, e.g. debian-12' }),
  format: PackageFormat,
  manager: PackageManager,
  architectures: Type.Array(Type.String(), { minItems: 1, description: "the OS's names for the node architectures (amd64; x86_64)" }),
  /** The packages a node needs, by this OS's names, before dependency resolution. */
  requested: Type.Array(Type.String()),
  /** Why each requested package is there (the kubeadm preflight check or component that needs it). */
  reasons: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** Set by download: the distribution repositories the closure came from. */
  sources: Type.Optional(Type.Array(PackageSource)),
  baseline: Type.Optional(PackagesBaseline),
  /** The local repository in the bundle (apt: a flat repository with Packages and Release; dnf: repodata/). */
  repository: Type.Optional(RelativePath),
  /** The resolved closure, set by download. */
  closure: Type.Optional(Type.Array(CarriedPackage)),
  /** rpm: the repositories' signing keys, carried so that the far side checks every package's signature again. */
  keys: Type.Optional(Type.Array(RelativePath)),
  /** Packages of the full closure left out because the baseline already has them. */
  excluded: Type.Optional(Type.Array(ExcludedPackage)),
  resolvedAt: Type.Optional(Timestamp),
});
export type PackagesSection = Static<typeof PackagesSection>;

/** One installed package, as `ag-nodeprep inventory` found it. */
export const InventoryPackage = Type.Object({
  name: Type.String(),
  version: Type.String(),
  arch: Type.String(),
  /**
   * deb: the dpkg status fields that shape dependency resolution
   * (Installed-Size, Depends, Pre-Depends, Provides, Breaks, Conflicts,
   * Replaces, Multi-Arch, Essential), so the connected side can rebuild an
   * exact status file.
   */
  fields: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type InventoryPackage = Static<typeof InventoryPackage>;

/**
 * The far side's installed packages: written by `ag-nodeprep inventory`,
 * carried back, and given to `ag-fetch download` so the next closure leaves
 * out what is already installed. A file of its own, not a pipeline document.
 */
export const PackageInventory = Type.Object({
  apiVersion: Type.String(),
  kind: Type.Literal('PackageInventory'),
  os: Type.Object({ id: Type.String(), versionId: Type.String(), prettyName: Type.Optional(Type.String()) }),
  format: PackageFormat,
  /** The host's native architecture in the OS's naming. */
  arch: Type.String(),
  root: Type.String({ description: 'the root directory that was inventoried (/ on a node)' }),
  takenAt: Timestamp,
  packages: Type.Array(InventoryPackage),
});
export type PackageInventory = Static<typeof PackageInventory>;
