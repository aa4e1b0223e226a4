/**
 * The two worlds one trip runs in, and every way they differ, in this one
 * place (steps.ts reads nothing else that differs):
 *
 * - `netns`: this machine, two network namespaces (gap.ts). A stand-in
 *   upstream in the connected namespace (the tools reach it through their
 *   mirror flags); no kubelet can run, so kubeadm is the test kit's kubeadm
 *   double and the nodes are directories (`--root`); one far
 *   directory holds every node's tree, so the far side is bootstrapped once.
 * - `vagrant`: VMs (e2e/vagrant/Vagrantfile): the internet on the connected
 *   VM, real kubeadm, kubelet, flannel and Helm on air-gapped VMs, the real
 *   `/`; each node bootstraps from the carried bundle itself.
 */

/** A node of the far side: its name and lab address. */
export interface FarNode {
  name: string;
  address: string;
}

/** The cluster's shape: one control plane (the classic procedure) or three behind a load balancer (the seed's production topology). */
export interface Topology {
  /** The first control-plane node runs init; the others join with --control-plane. */
  controlPlanes: FarNode[];
  workers: FarNode[];
  /** host:port of the load balancer in front of the control planes (HA only). */
  controlPlaneEndpoint?: string;
}

/** A registry, its CA file and its account (paths relative to the far side's working directory). */
export interface RegistryTarget {
  /** `HOST[:PORT][/PREFIX]`. */
  target: string;
  caFile: string;
  credentialsFile: string;
}

/** What `ag-registry up --state-dir registry` writes (packages/ag-registry/src/paths.ts). */
const OWN_REGISTRY_FILES = { caFile: 'registry/certs/ca.crt', credentialsFile: 'registry/auth/credentials' };

export interface World {
  name: 'netns' | 'vagrant';
  /** Where the files and images come from, said once for the transcript. */
  upstreamDescription: string;
  /** Extra `ag-fetch plan` flags: the stand-in upstream's mirror, or none (the internet). */
  planFlags: string[];
  /** Extra `ag-fetch download` flags: OS packages are left out where the stand-in has no Debian archive. */
  downloadFlags: string[];
  /** Extra `ag-images pull` flags: the stand-in registry, or none. */
  pullFlags: string[];
  /** Extra `ag-bundle pack` flags: where the tools to carry are. */
  packFlags: string[];
  /** The far side's architecture: which single executable runs there. */
  arch: string;
  /** A node's filesystem: a directory (`--root DIR`) in netns, the real `/` (no flag) on a VM. */
  rootFlags(node: FarNode): string[];
  /** `ag-kubeadm --root` likewise. */
  hostRootFlags(node: FarNode): string[];
  /** Which kubeadm and kubectl ag-kubeadm runs: the kit's double here, the bundle's (installed by ag-nodeprep) on a VM. */
  kubeadmPrograms(node: FarNode): string[];
  /** Extra `ag-nodeprep apply` flags. */
  nodeprepFlags(node: FarNode): string[];
  /** Extra `ag-kubeadm config` flags: the kubelet's cgroup driver where it is not systemd (ag-nodeprep records it, but the next trip's document has no node section). */
  kubeletFlags: string[];
  /** `ag-registry up` flags: where the internal registry listens and its name. */
  registryUpFlags: string[];
  /** The registry the images go to, as the next trip's push names it (ag-registry up --state-dir registry writes these files). */
  registry: RegistryTarget;
  /** The site runs its own registry (`--registry`): no ag-registry up, trust names it. */
  siteRegistry?: RegistryTarget;
  /** flanneld's interface choice, which must hold on every node (an address is one node's only). */
  flannelFlags: string[];
  /** A kubelet runs: flannel apply, Helm, the cluster checks and the upgrade happen. */
  kubelet: boolean;
  /**
   * A node tree with a dpkg database where the bundle's OS packages are
   * installed by a step of its own (netns: the cached debootstrap root, as
   * the stand-in tree has none); none where the prepare step installs them
   * on the node itself (Vagrant), or where they are left out.
   */
  packagesRoot?: { dir: string; flags: string[] };
  /** The far side is one directory for every node: bootstrap and unpack once, not per node. */
  sharedFarDirectory: boolean;
  topology: Topology;
  /** The release the next trip carries as a delta. */
  nextVersion: string;
  kubernetesVersion: string;
}

export const KUBERNETES_VERSION = 'v1.27.3';
export const NEXT_VERSION = 'v1.27.4';

/**
 * What the Vagrant lab carries: a supported Kubernetes, which needs a
 * containerd newer than either box's own (Fedora 37's 1.6, Ubuntu 22.04's
 * 1.7; 1.36 wants 2.2 or newer): containerd and runc come from their
 * releases (`ag-fetch plan --containerd upstream`). The netns demo keeps
 * v1.27.3, which the host's Debian containerd 1.6 really runs.
 */
export const VAGRANT_KUBERNETES_VERSION = 'v1.36.3';
export const VAGRANT_NEXT_VERSION = 'v1.36.4';

/** The lab network's addresses (Vagrantfile: AG_LAB_NET, the same last octets). */
export function vagrantTopology(labNet: string, ha: boolean, workers: number): Topology {
  const node = (name: string, octet: number): FarNode => ({ name, address: `${labNet}.${octet}` });
  const workerNodes = Array.from({ length: workers }, (_, i) => node(workers === 1 && !ha ? 'worker' : `worker${i + 1}`, 21 + i));
  if (!ha) return { controlPlanes: [node('airgap', 11)], workers: workerNodes };
  return { controlPlanes: [node('cp1', 11), node('cp2', 12), node('cp3', 13)], workers: workerNodes, controlPlaneEndpoint: `${labNet}.20:6443` };
}

/** Every Vagrant machine of a topology, with its address: the connected VM, the load balancer (HA), the far nodes. */
export function vagrantMachines(labNet: string, topology: Topology): FarNode[] {
  return [
    { name: 'connected', address: `${labNet}.10` },
    ...(topology.controlPlaneEndpoint === undefined ? [] : [{ name: 'lb', address: `${labNet}.20` }]),
    ...topology.controlPlanes,
    ...topology.workers,
  ];
}

/** flanneld --iface-regex for every address of a /24 lab network (Go RE2, matched against each interface's addresses). */
export function labNetRegex(labNet: string): string {
  return `^${labNet.replace(/\./g, '\\.')}\\.`;
}

export interface VagrantOptions {
  os: string;
  labNet: string;
  ha: boolean;
  workers: number;
}

export function vagrantWorld(options: VagrantOptions): World {
  const topology = vagrantTopology(options.labNet, options.ha, options.workers);
  const firstControlPlane = topology.controlPlanes[0]!;
  return {
    name: 'vagrant',
    upstreamDescription: 'the internet: dl.k8s.io, GitHub, get.helm.sh, the distribution archive, registry.k8s.io, docker.io, ghcr.io',
    planFlags: ['--containerd', 'upstream'],
    downloadFlags: [],
    pullFlags: [],
    packFlags: [],
    arch: 'amd64',
    rootFlags: () => [],
    hostRootFlags: () => [],
    kubeadmPrograms: () => [],
    // The lab has no DNS server of its own: the site resolver is the first control plane's lab address, where
    // nothing answers port 53, so a lookup of a public name fails instead of leaving through the provider's DHCP resolver.
    kubeletFlags: [],
    nodeprepFlags: () => ['--resolved', 'disable', '--nameserver', firstControlPlane.address],
    registry: { target: `${firstControlPlane.address}:5000`, ...OWN_REGISTRY_FILES },
    registryUpFlags: ['--state-dir', 'registry', '--host', 'ag-registry', '--ip', firstControlPlane.address, '--listen', '0.0.0.0:5000', '--endpoint', `${firstControlPlane.address}:5000`],
    flannelFlags: ['--iface-regex', labNetRegex(options.labNet)],
    kubelet: true,
    sharedFarDirectory: false,
    topology,
    nextVersion: VAGRANT_NEXT_VERSION,
    kubernetesVersion: VAGRANT_KUBERNETES_VERSION,
  };
}

export interface NetnsOptions {
  arch: string;
  /** The stand-in upstream's file server URL and registry host:port, with its CA file. */
  filesUrl: string;
  registryHost: string;
  registryCaFile: string;
  /** The internal registry's listen address, name and endpoint. */
  registryListen: string;
  registryName: string;
  registryEndpoint: string;
  ha: boolean;
  siteRegistry?: RegistryTarget;
  /** Resolve and carry the OS packages (Debian's archive through the connected side's proxy), installed into the cached debootstrap root. */
  osPackages?: boolean;
}

/** Where the netns run installs the OS packages (relative to the far directory). */
export const NETNS_PACKAGES_ROOT = 'debian-root';

/** The far directory's node trees (relative to it). */
export const NETNS_ROOTS: Record<string, string> = { 'ag-far': 'root', 'ag-far-w1': 'worker-root', 'ag-far-cp2': 'cp2-root', 'ag-far-cp3': 'cp3-root' };

export function netnsTopology(ha: boolean): Topology {
  const workers = [{ name: 'ag-far-w1', address: '127.0.0.2' }];
  if (!ha) return { controlPlanes: [{ name: 'ag-far', address: '127.0.0.1' }], workers };
  return {
    controlPlanes: [{ name: 'ag-far', address: '127.0.0.1' }, { name: 'ag-far-cp2', address: '127.0.0.3' }, { name: 'ag-far-cp3', address: '127.0.0.4' }],
    workers,
    controlPlaneEndpoint: 'ag-far-lb:6443',
  };
}

export function netnsWorld(options: NetnsOptions): World {
  const root = (node: FarNode): string => NETNS_ROOTS[node.name] ?? `${node.name}-root`;
  return {
    name: 'netns',
    upstreamDescription: 'a stand-in upstream in the connected namespace (every upstream host as a path prefix of one file server and one registry)',
    planFlags: ['--mirror', options.filesUrl],
    // OS packages come from Debian's archive itself (the stand-in serves none), through the connected side's proxy.
    downloadFlags: options.osPackages === true ? [] : ['--no-os-packages'],
    pullFlags: ['--mirror', options.registryHost, '--ca-file', options.registryCaFile],
    packFlags: ['--tools', 'tools'],
    arch: options.arch,
    rootFlags: (node) => ['--root', root(node)],
    hostRootFlags: (node) => ['--root', root(node)],
    kubeadmPrograms: (node) => ['--kubeadm', `kubeadm-double/${node.name}/kubeadm`, '--kubectl', 'kubeadm-double/kubectl'],
    // No dpkg database in the stand-in root and no systemd: the packages step would be a blocker (they go into
    // packagesRoot instead); cgroupfs as containerd runs here.
    nodeprepFlags: () => ['--cgroup-driver', 'cgroupfs', '--skip', 'packages'],
    // Every step that applies to that root (the packages first), cgroupfs as above.
    ...(options.osPackages === true ? { packagesRoot: { dir: NETNS_PACKAGES_ROOT, flags: ['--cgroup-driver', 'cgroupfs'] } } : {}),
    kubeletFlags: ['--kubelet-arg', 'cgroup-driver=cgroupfs'],
    registry: options.siteRegistry ?? { target: options.registryEndpoint, ...OWN_REGISTRY_FILES },
    ...(options.siteRegistry === undefined ? {} : { siteRegistry: options.siteRegistry }),
    registryUpFlags: ['--state-dir', 'registry', '--mode', 'distribution', '--init', 'process', '--listen', options.registryListen, '--host', options.registryName, '--endpoint', options.registryEndpoint],
    // Rendered the same way; nothing runs flanneld here.
    flannelFlags: ['--iface-regex', labNetRegex('127.0.0')],
    kubelet: false,
    sharedFarDirectory: true,
    topology: netnsTopology(options.ha),
    nextVersion: NEXT_VERSION,
    kubernetesVersion: KUBERNETES_VERSION,
  };
}
