import { isIP } from 'node:net';

/** An IP address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

export const ADDRESS_BITS = { 4: 32, 6: 128 } as const;

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((sum, octet) => (sum << 8n) | BigInt(Number(octet)), 0n);
}

/** An IPv6 address already accepted by isIP: a trailing dotted quad becomes two groups, `::` the missing zero groups. */
function ipv6Value(text: string): bigint {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let body = text;
  if (dotted !== null) {
    const v4 = ipv4Value(dotted[1]!);
    body = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const groups = (part: string): bigint[] => (part === '' ? [] : part.split(':').map((g) => BigInt(`0x${g}`)));
  const [head = '', tail] = body.split('::') as [string, string | undefined];
  const left = groups(head);
  const right = groups(tail ?? '');
  const zeros = Array<bigint>(8 - left.length - right.length).fill(0n);
  return [...left, ...zeros, ...right].reduce((sum, group) => (sum << 16n) | group, 0n);
}

/**
 * Parses an IPv4 or IPv6 address. Syntax is node:net's `isIP` (no leading
 * zeros in IPv4, as Go's net.ParseIP since Go 1.17); a zone (`fe80::1%eth0`)
 * is refused: no Kubernetes network field takes one. Returns undefined when
 * it is not an address.
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  if (text.includes('%')) return undefined;
  const family = isIP(text);
  if (family === 4) return { family, value: ipv4Value(text) };
  if (family === 6) return { family, value: ipv6Value(text) };
  return undefined;
}

/** The conventional text: dotted quad, or RFC 5952 IPv6 (lower case, the longest run of zero groups as `::`). */
export function formatIpAddress(address: IpAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((address.value >> BigInt((7 - i) * 16)) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

/** 127.0.0.0/8 or ::1: an address every host has for itself, so never one a pod can reach on the node. */
export function isLoopback(address: IpAddress): boolean {
  return address.family === 4 ? address.value >> 24n === 127n : address.value === 1n;
}
