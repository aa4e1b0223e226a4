import { UsageError } from '../errors.js';
import { ADDRESS_BITS, parseIpAddress } from './address.js';
import { addressAsCidr, cidrSize, cidrsOverlap, formatCidr, hasHostBits, parseCidr, type Cidr } from './cidr.js';

/**
 * kubeadm's limits, from cmd/kubeadm/app/constants/constants.go
 * (MinimumAddressesInServiceSubnet, MaximumBitsForServiceSubnet,
 * MinimumAddressesInPodSubnet, PodSubnetNodeMaskMaxDiff), applied as
 * cmd/kubeadm/app/apis/kubeadm/validation/validation.go applies them
 * (ValidateIPNetFromString, ValidateServiceSubnetSize, ValidatePodSubnetNodeMask).
 */
export const KUBEADM_NETWORK_LIMITS = {
  /** The cluster DNS service takes the tenth address of the service subnet. */
  minimumServiceAddresses: 10n,
  /** A /12 for IPv4, a /108 for IPv6 at the widest (the apiserver's own limit). */
  maximumServiceHostBits: 20,
  minimumPodAddresses: 14n,
  /** The per-node mask may be at most 16 bits longer than the pod subnet's. */
  podSubnetNodeMaskMaxDiff: 16,
} as const;

/**
 * The per-node pod range kube-controller-manager carves out of the pod
 * subnet when kubeadm leaves --node-cidr-mask-size-ipv4/-ipv6 unset: /24 and
 * /64 (validation.go getClusterNodeMask; kube-controller-manager's defaults).
 */
export const DEFAULT_NODE_CIDR_MASK = { 4: 24, 6: 64 } as const;

/** A node address or network, and where it came from (a flag or a JSON path). */
export interface NodeNetwork {
  field: string;
  /** An address (`192.168.56.10`) or an interface's address with its prefix (`192.168.56.10/24`). */
  value: string;
}

export interface ClusterNetworksInput {
  /** One CIDR, or an IPv4 and an IPv6 one separated by a comma (dual-stack, as kubeadm takes it). */
  podSubnet?: string | undefined;
  serviceSubnet?: string | undefined;
  nodeNetworks?: NodeNetwork[] | undefined;
}

export interface ClusterNetworkOptions {
  /** How to name the two subnets in messages: a JSON path (default `cluster.podSubnet`) or a flag. */
  fields?: { podSubnet?: string; serviceSubnet?: string };
  /** kube-controller-manager --node-cidr-mask-size-ipv4/-ipv6, when set. */
  nodeCidrMaskSize?: { 4?: number; 6?: number };
}

export interface ClusterNetworks {
  podSubnets: Cidr[];
  serviceSubnets: Cidr[];
  nodeNetworks: Cidr[];
}

interface Named {
  field: string;
  text: string;
  cidr: Cidr;
}

const quote = (text: string): string => JSON.stringify(text);

/** One subnet list as kubeadm reads it: split on commas (no spaces), one CIDR or one of each family. */
function parseSubnetList(field: string, value: string, problems: string[]): Named[] {
  if (value === '') {
    problems.push(`${field} is empty`);
    return [];
  }
  const items = value.split(',');
  const parsed: Named[] = [];
  for (const item of items) {
    const where = items.length > 1 ? `${field} ${quote(value)}: ${quote(item)}` : `${field} ${quote(value)}`;
    if (item !== item.trim()) {
      problems.push(`${where}: spaces are not allowed (kubeadm splits the list on commas only)`);
      continue;
    }
    const result = parseCidr(item);
    if ('problem' in result) {
      problems.push(`${where}: ${result.problem}`);
      continue;
    }
    if (hasHostBits(result.cidr)) {
      problems.push(`${where}: host bits are set; the network is ${formatCidr(result.cidr)}`);
      continue;
    }
    parsed.push({ field, text: item, cidr: result.cidr });
  }
  if (items.length > 2 || (parsed.length === 2 && parsed[0]!.cidr.family === parsed[1]!.cidr.family)) {
    problems.push(`${field} ${quote(value)}: expected one CIDR, or one IPv4 and one IPv6 CIDR for dual-stack`);
  }
  return parsed;
}

function podSubnetProblems(subnet: Named, options: ClusterNetworkOptions): string[] {
  const { family, prefix } = subnet.cidr;
  const nodeMask = options.nodeCidrMaskSize?.[family] ?? DEFAULT_NODE_CIDR_MASK[family];
  const where = `${subnet.field} ${quote(subnet.text)}`;
  const flag = `--node-cidr-mask-size-ipv${family}`;
  if (cidrSize(subnet.cidr) < KUBEADM_NETWORK_LIMITS.minimumPodAddresses) {
    return [`${where}: ${cidrSize(subnet.cidr)} address(es) is too small; kubeadm wants at least ${KUBEADM_NETWORK_LIMITS.minimumPodAddresses}`];
  }
  if (prefix > nodeMask) {
    return [`${where}: a /${prefix} cannot hold one node's /${nodeMask} (kube-controller-manager ${flag} is ${nodeMask}); use a /${nodeMask} or wider`];
  }
  if (nodeMask - prefix > KUBEADM_NETWORK_LIMITS.podSubnetNodeMaskMaxDiff) {
    return [
      `${where}: the per-node /${nodeMask} is more than ${KUBEADM_NETWORK_LIMITS.podSubnetNodeMaskMaxDiff} bits longer than /${prefix}; ` +
        `kubeadm refuses it: use a /${nodeMask - KUBEADM_NETWORK_LIMITS.podSubnetNodeMaskMaxDiff} or narrower`,
    ];
  }
  return [];
}

function serviceSubnetProblems(subnet: Named): string[] {
  const { family, prefix } = subnet.cidr;
  const where = `${subnet.field} ${quote(subnet.text)}`;
  const widest = ADDRESS_BITS[family] - KUBEADM_NETWORK_LIMITS.maximumServiceHostBits;
  if (prefix < widest) return [`${where}: too large; for IPv${family} the prefix must be /${widest} or longer (kubeadm ValidateServiceSubnetSize)`];
  if (cidrSize(subnet.cidr) < KUBEADM_NETWORK_LIMITS.minimumServiceAddresses) {
    return [`${where}: ${cidrSize(subnet.cidr)} address(es) is too small; the cluster DNS service is the tenth address, so kubeadm wants at least 10`];
  }
  return [];
}

function parseNodeNetwork(node: NodeNetwork, problems: string[]): Named | undefined {
  const address = parseIpAddress(node.value);
  if (address !== undefined) return { field: node.field, text: node.value, cidr: addressAsCidr(address) };
  const result = parseCidr(node.value);
  if ('problem' in result) {
    problems.push(`${node.field} ${quote(node.value)}: not an IP address or ADDRESS/PREFIX (${result.problem})`);
    return undefined;
  }
  return { field: node.field, text: node.value, cidr: result.cidr };
}

function overlapProblems(groups: Named[][]): string[] {
  const problems: string[] = [];
  for (let i = 0; i < groups.length; i++) {
    for (let j = i + 1; j < groups.length; j++) {
      for (const a of groups[i]!) {
        for (const b of groups[j]!) {
          if (!cidrsOverlap(a.cidr, b.cidr)) continue;
          const [outer, inner] = a.cidr.prefix <= b.cidr.prefix ? [a, b] : [b, a];
          const relation = outer.cidr.prefix === inner.cidr.prefix ? 'the same range' : `${formatCidr(inner.cidr)} lies inside ${formatCidr(outer.cidr)}`;
          problems.push(`${a.field} ${quote(a.text)} overlaps ${b.field} ${quote(b.text)}: ${relation}`);
        }
      }
    }
  }
  return problems;
}

/** Every problem with the cluster's networks, one line each; an empty list when they are sound. */
export function clusterNetworkProblems(input: ClusterNetworksInput, options: ClusterNetworkOptions = {}): string[] {
  const problems: string[] = [];
  const fields = { podSubnet: 'cluster.podSubnet', serviceSubnet: 'cluster.serviceSubnet', ...options.fields };
  const pods = input.podSubnet === undefined ? [] : parseSubnetList(fields.podSubnet, input.podSubnet, problems);
  const services = input.serviceSubnet === undefined ? [] : parseSubnetList(fields.serviceSubnet, input.serviceSubnet, problems);
  const nodes = (input.nodeNetworks ?? []).flatMap((node) => parseNodeNetwork(node, problems) ?? []);
  problems.push(...pods.flatMap((s) => podSubnetProblems(s, options)), ...services.flatMap(serviceSubnetProblems));
  problems.push(...overlapProblems([pods, services, nodes]));
  return problems;
}

/**
 * Checks the pod and service subnets the way kubeadm does (CIDR syntax,
 * dual-stack lists, sizes, the per-node mask) and more strictly (no host
 * bits; pod, service and node networks disjoint), and returns them parsed.
 * Throws a UsageError (exit 2) naming each field, the value and, for an
 * overlap, both ranges.
 */
export function validateClusterNetworks(input: ClusterNetworksInput, options: ClusterNetworkOptions = {}): ClusterNetworks {
  const problems = clusterNetworkProblems(input, options);
  if (problems.length > 0) {
    throw new UsageError(`the cluster networks are not valid:\n  ${problems.join('\n  ')}`, {
      hint:
        'pods, services and nodes each need their own range (kubeadm defaults: pods 10.244.0.0/16 for flannel, services 10.96.0.0/12); ' +
        'a pod subnet must hold a /24 per node (/64 for IPv6)',
    });
  }
  const cidrs = (value: string | undefined): Cidr[] => (value === undefined ? [] : value.split(',').map((item) => (parseCidr(item) as { cidr: Cidr }).cidr));
  return {
    podSubnets: cidrs(input.podSubnet),
    serviceSubnets: cidrs(input.serviceSubnet),
    nodeNetworks: (input.nodeNetworks ?? []).map((node) => parseNodeNetwork(node, [])!.cidr),
  };
}
