import { API_VERSION, MissingError, type Io, type PackageInventory } from '@ag/core';
import { parseOsRelease } from '../os-release.js';
import { readNodeText } from '../root-fs.js';
import { detectPackageFormat, installedPackages } from './installed-packages.js';

const DEB_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armhf', ppc64: 'ppc64el', s390x: 's390x' };
const RPM_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x' };

export interface InventoryOptions {
  /** `/` for this host, or the top of another OS tree. */
  root: string;
  io: Pick<Io, 'env' | 'stderr'>;
  now?: Date;
}

/**
 * What packages the node has installed, with versions (and for debs the
 * relationship fields apt needs), for the connected side: `ag-fetch download
 * --inventory FILE` resolves the next closure against it, so packages the far
 * side already has are not carried again. Reads only; changes nothing.
 */
export async function takeInventory(options: InventoryOptions): Promise<PackageInventory> {
  const { root } = options;
  const osText = (await readNodeText(root, '/etc/os-release')) ?? (await readNodeText(root, '/usr/lib/os-release'));
  if (osText === undefined) {
    throw new MissingError(`taking the package inventory: ${root} has no /etc/os-release`, { hint: 'pass --root the top of an OS tree' });
  }
  const fields = parseOsRelease(osText);
  const format = await detectPackageFormat(root, options.io);
  if (format === undefined) {
    throw new MissingError(`taking the package inventory: ${root} has neither a dpkg nor an rpm database`, {
      hint: 'ag carries deb and rpm packages only; on another OS, install the node packages by hand',
    });
  }
  const packages = await installedPackages(root, format, options.io, true);
  // The package manager's own package says what architecture the node is; a bare tree falls back to this machine's.
  const manager = packages.find((p) => p.name === (format === 'deb' ? 'dpkg' : 'rpm'));
  const native = (format === 'deb' ? DEB_ARCH : RPM_ARCH)[process.arch] ?? process.arch;
  return {
    apiVersion: API_VERSION,
    kind: 'PackageInventory',
    os: { id: fields['ID'] ?? 'linux', versionId: fields['VERSION_ID'] ?? '', ...(fields['PRETTY_NAME'] ? { prettyName: fields['PRETTY_NAME'] } : {}) },
    format,
    arch: manager?.arch ?? native,
    root,
    takenAt: (options.now ?? new Date()).toISOString(),
    packages,
  };
}
