import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from '@ag/core';
import { formatStanzas, type Stanza } from './deb822.js';

/** One .deb of the local repository: its archive index record and its path inside the repository. */
export interface DebRepositoryEntry {
  record: Stanza;
  /** Relative to the repository directory, e.g. `pool/containerd_1.6.20~ds1-1+deb12u3_amd64.deb`. */
  path: string;
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The Packages index: the archive's own records (so Depends, sizes and hashes are exactly what Debian signed), with Filename pointing into the bundle. */
export function renderPackagesIndex(entries: readonly DebRepositoryEntry[]): string {
  const sorted = [...entries].sort(
    (a, b) =>
      (a.record.get('Package') ?? '').localeCompare(b.record.get('Package') ?? '') ||
      (a.record.get('Architecture') ?? '').localeCompare(b.record.get('Architecture') ?? '') ||
      (a.record.get('Version') ?? '').localeCompare(b.record.get('Version') ?? ''),
  );
  return formatStanzas(
    sorted.map((entry) => {
      const record: Stanza = new Map(entry.record);
      record.set('Filename', entry.path);
      return record;
    }),
  );
}

/** A flat repository's Release file: the hashes apt checks Packages against. */
export function renderRelease(files: ReadonlyArray<{ name: string; data: string | Uint8Array }>, architectures: readonly string[], date: Date): string {
  const lines = [
    'Origin: ag',
    'Label: ag bundle',
    'Suite: ag',
    'Codename: ag',
    `Date: ${date.toUTCString()}`,
    `Architectures: ${[...architectures].sort().join(' ')}`,
    'Description: OS packages carried across the air gap by ag (the bundle is signed; see SHA256SUMS.sig)',
    'SHA256:',
    ...files.map((f) => ` ${sha256(f.data)} ${Buffer.byteLength(f.data)} ${f.name}`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Writes a flat apt repository's metadata (`Packages`, `Packages.gz`,
 * `Release`) in `repoDir`, each file atomically; the .deb files must already
 * be at their paths. Signing is left to the bundle: its signed SHA256SUMS
 * covers these files, and the far side verifies it before apt reads them.
 */
export async function writeDebRepository(repoDir: string, entries: readonly DebRepositoryEntry[], date: Date): Promise<void> {
  const packages = renderPackagesIndex(entries);
  const packagesGz = gzipSync(packages, { level: 9 });
  const architectures = [...new Set(entries.map((e) => e.record.get('Architecture') ?? ''))].filter(Boolean);
  const release = renderRelease(
    [
      { name: 'Packages', data: packages },
      { name: 'Packages.gz', data: packagesGz },
    ],
    architectures,
    date,
  );
  await writeFileAtomic(join(repoDir, 'Packages'), packages);
  await writeFileAtomic(join(repoDir, 'Packages.gz'), packagesGz);
  await writeFileAtomic(join(repoDir, 'Release'), release);
}
