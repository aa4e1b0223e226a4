import { readFile } from 'node:fs/promises';
import { UsageError, validateClusterNetworks, withContext, writeFileAtomic, type AgDocument, type ClusterSpec, type KubeadmSection, type Logger, silentLogger } from '@ag/core';
import { DEFAULT_CRI_SOCKET, defaultNodeName, detectAdvertiseAddress, hostPath, PATHS, type HostNetwork } from './host.js';
import { chooseImageRepository, componentTags, kubeadmImages, sandboxImageFor } from './images.js';
import { initConfigurationObjects, renderYaml, type KubeadmConfigInput } from './kubeadm-config.js';
import { kubeletSettings, withoutConfiguredFlags } from './kubelet-settings.js';
import { kubeadmApiVersion, parseKubernetesVersion } from './version.js';

export interface ConfigOptions {
  /** Prefix for every host path (`/` on a node; a temporary directory in tests). */
  hostRoot?: string;
  /** Where to write the configuration on the node; default the document's, else /etc/kubernetes/ag/kubeadm-config.yaml. */
  configFile?: string;
  /** upstream (default), internal, or a repository. */
  imageRepository?: string;
  advertiseAddress?: string;
  nodeName?: string;
  criSocket?: string;
  bindPort?: number;
  controlPlaneEndpoint?: string;
  singleNode?: boolean;
  certSANs?: string[];
  /** `name=value` pairs for kube-apiserver. */
  apiServerArgs?: string[];
  /** `name=value` pairs for the kubelet; `node-ip` defaults to the advertise address. */
  kubeletArgs?: string[];
  pinImageTags?: boolean;
  controlPlaneTimeoutMs?: number;
  /** Address detection input (tests). */
  network?: HostNetwork;
  /** The hostname (tests). */
  hostname?: string;
  /** Compute and return, write nothing. */
  dryRun?: boolean;
  log?: Logger;
}

export interface ConfigResult {
  section: KubeadmSection;
  /** The file on this machine (host root applied). */
  path: string;
  changed: boolean;
}

/** `name=value` flags as pairs (leading dashes on the name dropped); anything else is a usage error. */
export function parsePairs(flag: string, pairs: string[] | undefined): Array<[string, string]> {
  return (pairs ?? []).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} ${JSON.stringify(pair)} is not name=value`);
    return [pair.slice(0, eq).replace(/^-+/, ''), pair.slice(eq + 1)];
  });
}

function requireCluster(document: AgDocument): ClusterSpec {
  if (document.cluster === undefined) {
    throw new UsageError('the document has no cluster section (Kubernetes version, pod and service subnets)', {
      hint: 'start the pipeline with ag-fetch plan, which records the cluster being built',
    });
  }
  return document.cluster;
}

const ENDPOINT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * Computes the kubeadm configuration for the document's exact Kubernetes
 * version and writes it (atomically) where the document says, recording the
 * path, the text, the image repository, the sandbox image and every image
 * kubeadm will ask for in the `kubeadm` section.
 *
 * It reads `cluster` (the single source for the version and subnets),
 * `fetch.components` (pause, etcd, coredns), `nodeprep` (the cgroup driver
 * and nameserver file the KubeletConfiguration carries) and, for
 * `internal`, `registry`.
 * It does not run kubeadm and does not check that the images exist (see
 * preflight).
 */
export async function configureKubeadm(document: AgDocument, options: ConfigOptions = {}): Promise<ConfigResult> {
  const cluster = requireCluster(document);
  const log = options.log ?? silentLogger;
  const previous = document.kubeadm;
  const version = parseKubernetesVersion(cluster.kubernetesVersion);
  const apiVersion = kubeadmApiVersion(version);
  const imageChoice = chooseImageRepository(
    document,
    options.imageRepository ?? (previous?.imageSource === 'custom' ? previous.imageRepository : previous?.imageSource),
  );
  const tags = componentTags(document);
  const controlPlaneEndpoint = options.controlPlaneEndpoint ?? previous?.controlPlaneEndpoint;
  if (controlPlaneEndpoint !== undefined && !ENDPOINT.test(controlPlaneEndpoint)) {
    throw new UsageError(`--control-plane-endpoint ${JSON.stringify(controlPlaneEndpoint)} is not host[:port]`);
  }
  const singleNode = options.singleNode ?? previous?.singleNode ?? false;
  if (singleNode && controlPlaneEndpoint !== undefined) log.warn('--single-node with a control-plane endpoint: the control-plane taint is removed on every control-plane node');
  const advertiseAddress = options.advertiseAddress ?? detectAdvertiseAddress(options.network);
  validateClusterNetworks({ ...cluster, nodeNetworks: [{ field: 'kubeadm.node.advertiseAddress', value: advertiseAddress }] });
  const node = {
    name: options.nodeName ?? defaultNodeName(options.hostname),
    advertiseAddress,
    bindPort: options.bindPort ?? previous?.node.bindPort ?? 6443,
    criSocket: options.criSocket ?? previous?.node.criSocket ?? DEFAULT_CRI_SOCKET,
  };
  const givenKubeletArgs = parsePairs('--kubelet-arg', options.kubeletArgs);
  const kubelet = await kubeletSettings(document, givenKubeletArgs, options.hostRoot ?? '/');
  const kubeletArgs = withoutConfiguredFlags(givenKubeletArgs);
  // On machines with several interfaces (Vagrant's NAT + private network) the kubelet would otherwise pick the default-route address.
  if (!kubeletArgs.some(([name]) => name === 'node-ip')) kubeletArgs.unshift(['node-ip', advertiseAddress]);
  const input: KubeadmConfigInput = {
    apiVersion,
    kubernetesVersion: version.text,
    podSubnet: cluster.podSubnet,
    serviceSubnet: cluster.serviceSubnet,
    dnsDomain: cluster.dnsDomain,
    repository: imageChoice.repository,
    tags,
    pinImageTags: options.pinImageTags ?? false,
    node,
    controlPlaneEndpoint,
    singleNode,
    certSANs: options.certSANs ?? [],
    apiServerArgs: parsePairs('--apiserver-arg', options.apiServerArgs),
    kubeletArgs,
    controlPlaneTimeoutMs: options.controlPlaneTimeoutMs ?? 4 * 60_000,
    kubelet,
  };
  const configFile = options.configFile ?? previous?.configFile ?? PATHS.configFile;
  if (!configFile.startsWith('/')) throw new UsageError(`--config-file ${JSON.stringify(configFile)} must be an absolute path on the node`);
  const text = renderYaml(initConfigurationObjects(input), [
    `kubeadm configuration for Kubernetes ${version.text}, written by ag-kubeadm.`,
    `Use exactly this file: kubeadm init --config ${configFile}`,
  ]);
  const section: KubeadmSection = {
    configFile,
    apiVersion,
    kubernetesVersion: version.text,
    config: text,
    imageRepository: imageChoice.repository,
    kubelet,
    imageSource: imageChoice.source,
    sandboxImage: sandboxImageFor(imageChoice.repository, tags),
    images: kubeadmImages(version.text, imageChoice.repository, tags),
    node,
    singleNode,
  };
  if (controlPlaneEndpoint !== undefined) section.controlPlaneEndpoint = controlPlaneEndpoint;
  // What init and join recorded stays while the configuration is the same cluster.
  if (previous !== undefined && previous.config === text) {
    for (const key of ['adminKubeconfig', 'initializedAt', 'join', 'joined', 'preflight', 'upgrade'] as const) {
      if (previous[key] !== undefined) (section as Record<string, unknown>)[key] = previous[key];
    }
  }
  const path = hostPath(options.hostRoot ?? '/', configFile);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  const changed = existing !== text;
  if (changed && !options.dryRun) {
    try {
      await writeFileAtomic(path, text, { mode: 0o644 });
    } catch (error) {
      throw withContext(`writing the kubeadm configuration to ${path}`, error);
    }
  }
  return { section, path, changed };
}
