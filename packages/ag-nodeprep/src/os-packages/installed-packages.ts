import { access } from 'node:fs/promises';
import { runProgram, type Io, type InventoryPackage, type PackageFormat } from '@ag/core';
import { inRoot } from '../root-fs.js';

/**
 * The dpkg status fields that shape apt's resolution, carried in an inventory
 * so the connected side rebuilds an exact status file. Installed-Size is one:
 * apt tells two records of the same version apart by a hash over it and the
 * relationship fields, and would otherwise "reinstall" the package.
 */
export const DEB_RELATION_FIELDS = ['Installed-Size', 'Depends', 'Pre-Depends', 'Provides', 'Breaks', 'Conflicts', 'Replaces', 'Multi-Arch', 'Essential'] as const;

const RPM_DBS = ['/var/lib/rpm', '/usr/lib/sysimage/rpm'];

type Env = Pick<Io, 'env' | 'stderr'>;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Where this host's rpm keeps its database, when rpm is installed (Debian's rpm: ~/.rpmdb). */
async function hostRpmDbPath(io: Env): Promise<string[]> {
  const result = await runProgram('rpm', ['--eval', '%{_dbpath}'], { env: io.env, stderr: io.stderr, allowFailure: true, streamStderr: false }).catch(() => undefined);
  const path = result?.stdout.trim();
  return path?.startsWith('/') ? [path] : [];
}

/** Which package database the root has: dpkg (Debian, Ubuntu) or rpm (Fedora, RHEL); undefined when neither. */
export async function detectPackageFormat(root: string, io: Env): Promise<PackageFormat | undefined> {
  if (await exists(inRoot(root, '/var/lib/dpkg/status'))) return 'deb';
  for (const db of [...RPM_DBS, ...(await hostRpmDbPath(io))]) if (await exists(inRoot(root, db))) return 'rpm';
  return undefined;
}

/**
 * The installed debs of a root, read with dpkg-query from its own database
 * (`--admindir`), so a root other than / needs no chroot. Packages dpkg only
 * remembers (config files left, half-installed) are not installed.
 */
export async function installedDebs(root: string, io: Env, withFields = false): Promise<InventoryPackage[]> {
  const columns = ['${Package}', '${Version}', '${Architecture}', '${db:Status-Abbrev}', ...(withFields ? DEB_RELATION_FIELDS.map((f) => `\${${f}}`) : [])];
  const result = await runProgram('dpkg-query', [`--admindir=${inRoot(root, '/var/lib/dpkg')}`, '--show', `--showformat=${columns.join('\\t')}\\n`], {
    env: { ...io.env, LC_ALL: 'C' },
    stderr: io.stderr,
    streamStderr: false,
  });
  const packages: InventoryPackage[] = [];
  for (const line of result.stdout.split('\n')) {
    if (line === '') continue;
    const [name = '', version = '', arch = '', abbrev = '', ...values] = line.split('\t');
    if (abbrev[1] !== 'i') continue;
    const entry: InventoryPackage = { name, version, arch };
    if (withFields) {
      const fields = Object.fromEntries(DEB_RELATION_FIELDS.map((f, i) => [f, values[i] ?? '']).filter(([, v]) => v !== ''));
      if (Object.keys(fields).length > 0) entry.fields = fields;
    }
    packages.push(entry);
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch));
}

/** The installed rpms of a root (`rpm --root`), versions as `[epoch:]version-release`. */
export async function installedRpms(root: string, io: Env): Promise<InventoryPackage[]> {
  const result = await runProgram('rpm', [`--root=${root}`, '--query', '--all', '--queryformat', '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n'], {
    env: { ...io.env, LC_ALL: 'C' },
    stderr: io.stderr,
    streamStderr: false,
  });
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', evr = '', arch = ''] = line.split('\t');
      // gpg-pubkey entries are keys, not packages.
      return { name, version: evr.replace(/^0:/, ''), arch };
    })
    .filter((p) => p.name !== 'gpg-pubkey')
    .sort((a, b) => a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch));
}

export async function installedPackages(root: string, format: PackageFormat, io: Env, withFields = false): Promise<InventoryPackage[]> {
  return format === 'deb' ? installedDebs(root, io, withFields) : installedRpms(root, io);
}
