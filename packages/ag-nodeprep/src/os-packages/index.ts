export { takeInventory, type InventoryOptions } from './inventory.js';
export { installOsPackages, pendingPackages, aptOptions, aptSourcesLine, dnfInstallCommand, BUNDLE_REPO_ID, type InstallOsPackagesOptions, type InstallReport, type PackageChange } from './install-os-packages.js';
export { installedPackages, installedDebs, installedRpms, detectPackageFormat, DEB_RELATION_FIELDS } from './installed-packages.js';
