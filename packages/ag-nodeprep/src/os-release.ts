import { readFile } from 'node:fs/promises';
import { MissingError, SystemError } from '@ag/core';
import { inRoot } from './root-fs.js';

/** The OS families ag-nodeprep knows how to prepare. */
export type OsFamily = 'fedora' | 'rhel' | 'debian' | 'ubuntu';

export interface OsInfo {
  /** `ID` from os-release (`fedora`, `rocky`, `debian`…). */
  id: string;
  /** `VERSION_ID` (`37`, `9.3`, `12`, `22.04`). */
  version: string;
  family: OsFamily;
  /** `PRETTY_NAME`, for messages. */
  name: string;
}

/** Parses os-release(5): `KEY=value` lines, values optionally quoted with shell-style escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\`$])/g, '$1');
    }
    fields[match[1]!] = value;
  }
  return fields;
}

const RHEL_IDS = new Set(['rhel', 'centos', 'rocky', 'almalinux', 'ol', 'circle', 'navy', 'eurolinux']);

/** The oldest major release of each family that kubeadm's current releases support; older ones are refused. */
const MINIMUM_MAJOR: Record<OsFamily, number> = { fedora: 37, rhel: 8, debian: 11, ubuntu: 20 };

function familyOf(fields: Record<string, string>): OsFamily | undefined {
  const id = (fields['ID'] ?? '').toLowerCase();
  const like = (fields['ID_LIKE'] ?? '').toLowerCase().split(/\s+/);
  if (id === 'fedora') return 'fedora';
  if (RHEL_IDS.has(id) || like.includes('rhel') || like.includes('centos')) return 'rhel';
  if (id === 'ubuntu') return 'ubuntu';
  if (id === 'debian') return 'debian';
  return undefined;
}

const SUPPORTED = 'Fedora 37+, RHEL 8+ and its rebuilds (CentOS Stream, Rocky, AlmaLinux, Oracle Linux), Debian 11+, Ubuntu 20.04+';

/**
 * Reads `<root>/etc/os-release` (or `/usr/lib/os-release`) and tells the OS
 * family and version. Refuses (SystemError, exit 6) an OS ag-nodeprep does
 * not know how to prepare, rather than guessing: a wrong guess edits the wrong
 * files on someone's server. A missing os-release is a MissingError.
 */
export async function detectOs(root: string): Promise<OsInfo> {
  let text: string | undefined;
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    text = await readFile(inRoot(root, path), 'utf8').catch(() => undefined);
    if (text !== undefined) break;
  }
  if (text === undefined) {
    throw new MissingError(`detecting the OS: neither ${inRoot(root, '/etc/os-release')} nor ${inRoot(root, '/usr/lib/os-release')} exists`, {
      hint: root === '/' ? 'ag-nodeprep needs a systemd-era Linux distribution' : 'pass --root the top of an OS tree (the directory holding etc/ and usr/)',
    });
  }
  const fields = parseOsRelease(text);
  const id = fields['ID'] ?? 'linux';
  const version = fields['VERSION_ID'] ?? '';
  const name = fields['PRETTY_NAME'] ?? `${id} ${version}`.trim();
  const family = familyOf(fields);
  if (family === undefined) {
    throw new SystemError(`this host runs ${name} (ID=${id}), which ag-nodeprep does not prepare; it supports ${SUPPORTED}`, {
      hint: 'prepare the node by hand (see docs/document.md, "nodeprep", for the list of steps), or use a supported OS',
    });
  }
  const major = Number.parseInt(version, 10);
  if (!Number.isFinite(major) || major < MINIMUM_MAJOR[family]) {
    throw new SystemError(`this host runs ${name} (VERSION_ID=${version || 'none'}), too old or unknown for ag-nodeprep; it supports ${SUPPORTED}`, {
      hint: 'upgrade the OS, or prepare the node by hand',
    });
  }
  return { id, version, family, name };
}

/** `fedora-37`, `debian-12`, `ubuntu-22.04`: the form `cluster.os` uses. */
export function osKey(os: OsInfo): string {
  return `${os.id}-${os.version}`;
}
