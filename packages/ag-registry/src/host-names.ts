import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { UsageError } from '@ag/core';

/** The names and addresses a server certificate covers. */
export interface SubjectNames {
  dns: string[];
  ips: string[];
}

/**
 * This host's names and addresses, for a certificate that works however a
 * client addresses the registry: the host name, `localhost`, every interface
 * address (loopback included). Deliberately no DNS lookup: on the far side
 * there may be no resolver, and a lookup that hangs is worse than a name missing.
 */
export function defaultSubjectNames(): SubjectNames {
  const dns = new Set<string>();
  const host = hostname().trim().toLowerCase();
  if (host !== '' && isIP(host) === 0) {
    dns.add(host);
    const short = host.split('.')[0];
    if (short && short !== host) dns.add(short);
  }
  dns.add('localhost');
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      // Link-local IPv6 addresses need a zone to be usable; a certificate cannot carry one.
      if (address.family === 'IPv6' && address.address.toLowerCase().startsWith('fe80:')) continue;
      ips.add(canonicalIp(address.address));
    }
  }
  return { dns: [...dns], ips: [...ips] };
}

const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The canonical text of an IP address (`fd00::0:1` -> `fd00::1`), as certificates read back. */
export function canonicalIp(ip: string): string {
  const bare = ip.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) === 6) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return bare;
}

/** Checks and normalises `--host` and `--ip` values; an IP given as --host is moved to the addresses. */
export function normalizeSubjectNames(hosts: readonly string[], ips: readonly string[]): SubjectNames {
  const dns = new Set<string>();
  const addresses = new Set<string>();
  for (const raw of hosts) {
    const name = raw.trim().toLowerCase().replace(/\.$/, '');
    if (isIP(name) !== 0) {
      addresses.add(canonicalIp(name));
      continue;
    }
    if (!DNS_NAME.test(name)) throw new UsageError(`--host ${JSON.stringify(raw)} is not a valid DNS name`);
    dns.add(name);
  }
  for (const raw of ips) {
    const ip = raw.trim().replace(/^\[(.*)\]$/, '$1');
    if (isIP(ip) === 0) throw new UsageError(`--ip ${JSON.stringify(raw)} is not an IP address`);
    addresses.add(canonicalIp(ip));
  }
  return { dns: [...dns], ips: [...addresses] };
}

/** Adds a host (DNS name or IP) to a set of names, unless it is there. */
export function withName(names: SubjectNames, host: string): SubjectNames {
  const bare = canonicalIp(host.toLowerCase());
  if (isIP(bare) !== 0) return names.ips.includes(bare) ? names : { dns: names.dns, ips: [...names.ips, bare] };
  return names.dns.includes(bare) ? names : { dns: [...names.dns, bare], ips: names.ips };
}

/** `DNS:name` / `IP:addr` strings, as openssl prints SANs and as the document lists them. */
export function sanStrings(names: SubjectNames): string[] {
  return [...names.dns.map((name) => `DNS:${name}`), ...names.ips.map((ip) => `IP:${ip}`)];
}
