import { stringify } from 'yaml';
import type { KubeadmKubelet } from '@ag/core';
import { kubeletConfigurationObject } from './kubelet-settings.js';
import { dnsImageRepository, type ComponentTags } from './images.js';
import type { KubeadmApiVersion } from './version.js';

/**
 * The kubeadm configuration objects, shaped per API version.
 *
 * Field names follow kubernetes/kubernetes
 * cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go and v1beta4/types.go and the
 * kubernetes.io pages "kubeadm Configuration (v1beta3)" / "(v1beta4)":
 * - v1beta3 (1.22–1.30): extraArgs and kubeletExtraArgs are maps;
 *   `apiServer.timeoutForControlPlane` is the control-plane wait.
 * - v1beta4 (1.31+): extraArgs and kubeletExtraArgs are lists of
 *   `{name, value}`; `InitConfiguration.timeouts` /
 *   `JoinConfiguration.timeouts` replace timeoutForControlPlane and
 *   discovery.timeout.
 * Both: `nodeRegistration.taints: []` registers a control-plane node without
 * the NoSchedule taint; omitted, kubeadm adds it.
 */

export interface NodeSettings {
  name: string;
  advertiseAddress: string;
  bindPort: number;
  criSocket: string;
}

export interface KubeadmConfigInput {
  apiVersion: KubeadmApiVersion;
  kubernetesVersion: string;
  podSubnet: string;
  serviceSubnet: string;
  dnsDomain: string;
  /** ClusterConfiguration.imageRepository */
  repository: string;
  tags: ComponentTags;
  /** Also pin etcd and coredns tags (kubeadm then leaves them alone on upgrade). */
  pinImageTags: boolean;
  node: NodeSettings;
  controlPlaneEndpoint?: string | undefined;
  singleNode: boolean;
  certSANs: string[];
  apiServerArgs: Array<[string, string]>;
  kubeletArgs: Array<[string, string]>;
  /** How long kubeadm waits for the control plane, in milliseconds. */
  controlPlaneTimeoutMs: number;
  /** The KubeletConfiguration document. */
  kubelet: KubeadmKubelet;
}

/** Go's time.Duration text, as kubeadm writes it: 4m0s, 1h0m0s, 30s. */
export function goDuration(ms: number): string {
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** extraArgs in the version's shape: a map (v1beta3) or a list of {name, value} (v1beta4). */
export function extraArgs(apiVersion: KubeadmApiVersion, args: Array<[string, string]>): Record<string, string> | Array<{ name: string; value: string }> {
  if (apiVersion === 'kubeadm.k8s.io/v1beta3') return Object.fromEntries(args);
  return args.map(([name, value]) => ({ name, value }));
}

function nodeRegistration(input: Pick<KubeadmConfigInput, 'apiVersion' | 'node' | 'kubeletArgs'>, taints?: unknown[]): Record<string, unknown> {
  const registration: Record<string, unknown> = { name: input.node.name, criSocket: input.node.criSocket };
  if (taints !== undefined) registration['taints'] = taints;
  if (input.kubeletArgs.length > 0) registration['kubeletExtraArgs'] = extraArgs(input.apiVersion, input.kubeletArgs);
  return registration;
}

/** InitConfiguration, ClusterConfiguration and KubeletConfiguration, in that order. */
export function initConfigurationObjects(input: KubeadmConfigInput): Record<string, unknown>[] {
  const v1beta4 = input.apiVersion === 'kubeadm.k8s.io/v1beta4';
  const init: Record<string, unknown> = {
    apiVersion: input.apiVersion,
    kind: 'InitConfiguration',
    localAPIEndpoint: { advertiseAddress: input.node.advertiseAddress, bindPort: input.node.bindPort },
    nodeRegistration: nodeRegistration(input, input.singleNode ? [] : undefined),
  };
  if (v1beta4) init['timeouts'] = { controlPlaneComponentHealthCheck: goDuration(input.controlPlaneTimeoutMs) };

  const etcdLocal: Record<string, unknown> = { imageRepository: input.repository };
  if (input.pinImageTags) etcdLocal['imageTag'] = input.tags.etcd;
  etcdLocal['dataDir'] = '/var/lib/etcd';
  const dns: Record<string, unknown> = { imageRepository: dnsImageRepository(input.repository) };
  if (input.pinImageTags) dns['imageTag'] = input.tags.coredns;

  const apiServer: Record<string, unknown> = {};
  if (input.apiServerArgs.length > 0) apiServer['extraArgs'] = extraArgs(input.apiVersion, input.apiServerArgs);
  if (input.certSANs.length > 0) apiServer['certSANs'] = input.certSANs;
  if (!v1beta4) apiServer['timeoutForControlPlane'] = goDuration(input.controlPlaneTimeoutMs);

  const cluster: Record<string, unknown> = {
    apiVersion: input.apiVersion,
    kind: 'ClusterConfiguration',
    kubernetesVersion: input.kubernetesVersion,
  };
  if (input.controlPlaneEndpoint !== undefined) cluster['controlPlaneEndpoint'] = input.controlPlaneEndpoint;
  Object.assign(cluster, {
    imageRepository: input.repository,
    dns,
    etcd: { local: etcdLocal },
    networking: { podSubnet: input.podSubnet, serviceSubnet: input.serviceSubnet, dnsDomain: input.dnsDomain },
  });
  if (Object.keys(apiServer).length > 0) cluster['apiServer'] = apiServer;
  return [init, cluster, kubeletConfigurationObject(input.kubelet)];
}

export interface JoinConfigInput {
  apiVersion: KubeadmApiVersion;
  node: NodeSettings;
  kubeletArgs: Array<[string, string]>;
  apiServerEndpoint: string;
  token: string;
  caCertHashes: string[];
  /** Set for a control-plane join. */
  certificateKey?: string | undefined;
}

/** A JoinConfiguration (it holds the token, so its file is 0600 and its text never enters the document). */
export function joinConfigurationObject(input: JoinConfigInput): Record<string, unknown> {
  const join: Record<string, unknown> = {
    apiVersion: input.apiVersion,
    kind: 'JoinConfiguration',
    nodeRegistration: nodeRegistration(input),
    discovery: {
      bootstrapToken: { apiServerEndpoint: input.apiServerEndpoint, token: input.token, caCertHashes: input.caCertHashes },
    },
  };
  if (input.certificateKey !== undefined) {
    join['controlPlane'] = {
      localAPIEndpoint: { advertiseAddress: input.node.advertiseAddress, bindPort: input.node.bindPort },
      certificateKey: input.certificateKey,
    };
  }
  return join;
}

/**
 * Several objects as one multi-document YAML file, with a comment saying
 * where it came from. The comment is inside the first document: kubeadm
 * splits the file with apimachinery's YAMLReader, for which comment lines
 * before a `---` are a document of their own, one without apiVersion and
 * kind, which kubeadm refuses (cmd/kubeadm/app/util/config, SplitConfigDocuments).
 */
export function renderYaml(objects: Record<string, unknown>[], header: string[]): string {
  const body = objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
  return `${header.map((line) => `# ${line}`).join('\n')}\n${body}`;
}
