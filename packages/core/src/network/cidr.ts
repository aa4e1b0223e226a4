import { ADDRESS_BITS, formatIpAddress, parseIpAddress, type IpAddress } from './address.js';

/** An address range: the network address (host bits cleared) and the prefix length. */
export interface Cidr {
  family: 4 | 6;
  /** The network address, host bits cleared. */
  network: bigint;
  prefix: number;
  /** The address as written, which may have host bits set (`192.168.56.10/24`, an interface's address). */
  address: bigint;
}

/** What is wrong with a text that should be a CIDR, or the range it names. */
export type CidrParse = { cidr: Cidr } | { problem: string };

function hostMask(family: 4 | 6, prefix: number): bigint {
  return (1n << BigInt(ADDRESS_BITS[family] - prefix)) - 1n;
}

/** `10.244.0.0/16`, `fd00:10:244::/56`. */
export function formatCidr(cidr: Pick<Cidr, 'family' | 'network' | 'prefix'>): string {
  return `${formatIpAddress({ family: cidr.family, value: cidr.network })}/${cidr.prefix}`;
}

/**
 * Parses `ADDRESS/PREFIX` (IPv4 or IPv6). The syntax is what Go's
 * net.ParseCIDR accepts, which kubeadm uses (k8s.io/utils/net ParseCIDRs):
 * no spaces, a decimal prefix no longer than the address. Host bits are not
 * a parse error here; the caller decides (a pod subnet must not have them, an
 * interface address has them).
 */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf('/');
  if (slash < 0) {
    return { problem: parseIpAddress(text) === undefined ? 'not a CIDR (ADDRESS/PREFIX, e.g. 10.244.0.0/16)' : 'an address without a prefix length (write ADDRESS/PREFIX, e.g. 10.244.0.0/16)' };
  }
  const address = parseIpAddress(text.slice(0, slash));
  if (address === undefined) return { problem: `${JSON.stringify(text.slice(0, slash))} is not an IPv4 or IPv6 address` };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return { problem: `the prefix length ${JSON.stringify(prefixText)} is not a number of bits` };
  const prefix = Number(prefixText);
  const bits = ADDRESS_BITS[address.family];
  if (prefix > bits) return { problem: `the prefix length /${prefix} is longer than an IPv${address.family} address (${bits} bits)` };
  if (address.family === 6 && address.value >> 32n === 0xffffn) {
    return { problem: 'an IPv4-mapped IPv6 range (::ffff:a.b.c.d) is read as IPv4 by Kubernetes; write the IPv4 range instead' };
  }
  return { cidr: { family: address.family, network: address.value & ~hostMask(address.family, prefix), prefix, address: address.value } };
}

/** Whether the address as written has bits set beyond the prefix. */
export function hasHostBits(cidr: Cidr): boolean {
  return cidr.address !== cidr.network;
}

/** How many addresses the range holds. */
export function cidrSize(cidr: Pick<Cidr, 'family' | 'prefix'>): bigint {
  return 1n << BigInt(ADDRESS_BITS[cidr.family] - cidr.prefix);
}

/** Whether two ranges share any address (one then holds the other: CIDRs nest or are disjoint). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shortest = Math.min(a.prefix, b.prefix);
  const shift = BigInt(ADDRESS_BITS[a.family] - shortest);
  return a.network >> shift === b.network >> shift;
}

/** A single address as the range holding only it (/32, /128). */
export function addressAsCidr(address: IpAddress): Cidr {
  return { family: address.family, network: address.value, prefix: ADDRESS_BITS[address.family], address: address.value };
}
