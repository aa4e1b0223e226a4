import { Type, type Static } from '@sinclair/typebox';
import { RelativePath, Sha256Hex } from './common.js';

/** One OS package carried in the bundle's local repository. */
export const CarriedPackage = Type.Object({
  name: Type.String(),
  version: Type.String(),
  arch: Type.String(),
  path: RelativePath,
  sha256: Sha256Hex,
  size: Type.Integer({ minimum: 0 }),
});

/**
 * The `packages` section: owned by ag-fetch (plan names the packages,
 * download resolves the closure into a local repository); read by ag-nodeprep.
 */
export const PackagesSection = Type.Object({
  format: Type.Union([Type.Literal('deb'), Type.Literal('rpm')]),
  /** The packages a node needs, by this OS's names, before dependency resolution. */
  requested: Type.Array(Type.String()),
  /** The local repository in the bundle (apt: Packages index; dnf: repodata). */
  repository: Type.Optional(RelativePath),
  /** The resolved closure, set by download. */
  closure: Type.Optional(Type.Array(CarriedPackage)),
  /** Packages left out because the far side's inventory already has them. */
  excluded: Type.Optional(Type.Array(Type.String())),
});
export type PackagesSection = Static<typeof PackagesSection>;
