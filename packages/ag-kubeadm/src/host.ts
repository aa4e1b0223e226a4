import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@ag/core';

/** What address detection looks at; tests pass their own. */
export interface HostNetwork {
  /** /proc/net/route's text (IPv4 routes). */
  routes: string;
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>;
}

export function readHostNetwork(): HostNetwork {
  let routes = '';
  try {
    routes = readFileSync('/proc/net/route', 'utf8');
  } catch {
    // not Linux: only the interface list is used
  }
  return { routes, interfaces: networkInterfaces() };
}

// Interfaces a cluster creates or that never carry node traffic.
const VIRTUAL = /^(lo|cni\d*|flannel\.\d+|docker\d*|veth.*|cali.*|kube-ipvs\d*|virbr\d*|br-.*)$/;

function ipv4Of(network: HostNetwork, name: string): string | undefined {
  return network.interfaces[name]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
}

/**
 * The address the API server advertises, chosen like kubeadm does: the IPv4
 * address of the interface holding the default route. A node on an
 * air-gapped network often has no default route; then the one non-virtual
 * IPv4 address is used, and several are an error asking for
 * --advertise-address (guessing would put the cluster on the wrong network).
 */
export function detectAdvertiseAddress(network: HostNetwork = readHostNetwork()): string {
  for (const line of network.routes.split('\n').slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (iface !== undefined && destination === '00000000' && mask === '00000000') {
      const address = ipv4Of(network, iface);
      if (address !== undefined) return address;
    }
  }
  const candidates = Object.keys(network.interfaces)
    .filter((name) => !VIRTUAL.test(name))
    .flatMap((name) => {
      const address = ipv4Of(network, name);
      return address === undefined ? [] : [`${address} (${name})`];
    });
  if (candidates.length === 1) return candidates[0]!.split(' ')[0]!;
  throw new UsageError(
    candidates.length === 0
      ? 'cannot choose the address to advertise: no default route and no IPv4 address on any interface'
      : `cannot choose the address to advertise: no default route and several addresses: ${candidates.join(', ')}`,
    { hint: 'pass --advertise-address IP (the address other nodes reach this one on)' },
  );
}

/** The node name kubeadm would use: the hostname, lower-cased (kubeadm's GetHostname). */
export function defaultNodeName(name: string = hostname()): string {
  return name.trim().toLowerCase();
}

/** containerd's socket as kubeadm names it (constants.DefaultCRISocket on Linux). */
export const DEFAULT_CRI_SOCKET = 'unix:///var/run/containerd/containerd.sock';

/** A host path under `--root` (`/` on a real node; a temporary directory in tests). */
export function hostPath(hostRoot: string, path: string): string {
  return hostRoot === '/' ? path : join(hostRoot, path);
}

/** Where kubeadm keeps its files, and where ag-kubeadm keeps its own. */
export const PATHS = {
  configFile: '/etc/kubernetes/ag/kubeadm-config.yaml',
  joinConfigFile: '/etc/kubernetes/ag/kubeadm-join.yaml',
  tokenFile: '/etc/kubernetes/ag/join-token',
  certificateKeyFile: '/etc/kubernetes/ag/certificate-key',
  adminKubeconfig: '/etc/kubernetes/admin.conf',
  kubeletKubeconfig: '/etc/kubernetes/kubelet.conf',
  apiServerManifest: '/etc/kubernetes/manifests/kube-apiserver.yaml',
  caCert: '/etc/kubernetes/pki/ca.crt',
  cniConfigDir: '/etc/cni/net.d',
  containerdConfig: '/etc/containerd/config.toml',
  kubeletConfig: '/var/lib/kubelet/config.yaml',
} as const;
