import type { BaselineInput } from './apt-baseline.js';
import type { OsPackagesContext } from './apt-state.js';

/** What the deb and rpm halves of the download share, with every default filled in. */
export interface OsPackagesDownloadOptions extends OsPackagesContext {
  /** The bundle's repository directory (absolute), e.g. `<bundle>/packages`. */
  repoDir: string;
  /** The repository directory as the document names it (relative to the bundle root). */
  repoPath: string;
  /** Private package-manager trees, one per release and architecture (indexes and packages are kept for re-runs). */
  cacheDir: string;
  baseline: BaselineInput;
  /** Resolve and report only: nothing is downloaded and the bundle is not touched. */
  dryRun: boolean;
  now: Date;
  /** The cluster's release: a containerd it does not support is refused (containerd-check.ts). */
  kubernetesVersion?: string;
}
