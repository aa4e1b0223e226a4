export { findOsRelease, knownOsReleases, type OsRelease, type NodePackage, type AptRepository, type DnfRepository } from './os-releases.js';
export { planOsPackages, requireOsRelease, osArchitectures, type PlanOsPackagesOptions } from './plan-os-packages.js';
export { downloadOsPackages, defaultOsPackagesCache, PACKAGES_DIR, type DownloadOsPackagesOptions } from './download-os-packages.js';
export { readInventory, type BaselineInput } from './apt-baseline.js';
export { planDnfDownload, createrepoCommand, type DnfDownloadPlan, type PlannedCommand } from './dnf-plan.js';
export { dnfContainerHint } from './download-rpm-packages.js';
export type { OsPackagesContext } from './apt-state.js';
