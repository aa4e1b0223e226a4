import { access } from 'node:fs/promises';
import { parse } from 'yaml';
import { UsageError, type AgDocument, type KubeadmSection, type KubeadmUpgrade, type KubeadmUpgradeStep } from '@ag/core';
import type { Runner } from './context.js';
import { PATHS } from './host.js';
import { locateImages } from './image-locations.js';
import { componentTags, kubeadmImages } from './images.js';
import { bundleBinaries, type BundleBinary } from './install-binary.js';
import { parseKubernetesVersion, type KubernetesVersion } from './version.js';

/**
 * Planning an upgrade across the gap, the way kubeadm's upgrade guide
 * orders it (kubernetes.io "Upgrading kubeadm clusters"): after a bundle of
 * the new release was unpacked and its images pushed, the first
 * control-plane node runs `upgrade apply`, every other node `upgrade node`.
 */
export type UpgradeRole = 'apply' | 'node';

export const STEPS: Record<UpgradeRole, string[]> = {
  apply: ['install-kubeadm', 'kubeadm-upgrade-apply', 'drain', 'install-kubelet', 'install-kubectl', 'restart-kubelet', 'uncordon'],
  node: ['install-kubeadm', 'kubeadm-upgrade-node', 'drain', 'install-kubelet', 'install-kubectl', 'restart-kubelet', 'uncordon'],
};

export interface UpgradeState {
  section: KubeadmSection;
  /** cluster.kubernetesVersion: what the unpacked bundle carries. */
  to: KubernetesVersion;
  /** What the control plane runs now (the kubeadm-config ConfigMap). */
  cluster: KubernetesVersion;
  /** This node runs a control plane (admin.conf and the kube-apiserver manifest are here). */
  controlPlane: boolean;
  /** The kubeconfig this node reads the cluster with. */
  kubeconfig: string;
  binaries: BundleBinary[];
  images: KubeadmUpgrade['images'];
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** The control plane's version, from the kubeadm-config ConfigMap (what kubeadm upgrade reads too). */
export async function runningVersion(runner: Runner, kubeconfig: string): Promise<KubernetesVersion> {
  const result = await runner.run('kubectl', ['--kubeconfig', kubeconfig, '-n', 'kube-system', 'get', 'configmap', 'kubeadm-config', '-o', 'jsonpath={.data.ClusterConfiguration}'], {
    streamStderr: false,
    hint: 'the API server must answer to plan an upgrade: check the control plane (crictl ps, journalctl -u kubelet)',
  });
  const configuration = (parse(result.stdout) ?? {}) as { kubernetesVersion?: string };
  return parseKubernetesVersion(configuration.kubernetesVersion ?? '');
}

/**
 * policy.go (cmd/kubeadm/app/phases/upgrade): one minor at a time, never
 * down. A skipped minor or a downgrade is a usage error (exit 2) before
 * anything changes; the same version is no upgrade (undefined).
 */
export function upgradeKind(from: KubernetesVersion, to: KubernetesVersion): 'patch' | 'minor' | undefined {
  const order = (v: KubernetesVersion): number => v.major * 1e6 + v.minor * 1e3 + v.patch;
  if (order(to) < order(from)) {
    throw new UsageError(`the cluster runs ${from.text} and the document asks for ${to.text}: kubeadm does not downgrade`, { hint: 'unpack the bundle of the version the cluster should run' });
  }
  if (to.minor > from.minor + 1) {
    throw new UsageError(
      `upgrading ${from.text} to ${to.text} would skip Kubernetes 1.${from.minor + 1}: kubeadm upgrades the control plane one minor at a time (cmd/kubeadm/app/phases/upgrade/policy.go)`,
      { hint: `carry the newest v1.${from.minor + 1} patch and upgrade to it first, then carry ${to.text}` },
    );
  }
  if (order(to) === order(from)) return undefined;
  return to.minor === from.minor ? 'patch' : 'minor';
}

/** What an upgrade needs, checked in this order: the running version and the policy (exit 2), the new binaries in the bundle and every new image (exit 5 when one is missing). */
export async function inspectUpgrade(document: AgDocument, runner: Runner): Promise<UpgradeState> {
  const section = document.kubeadm;
  if (section === undefined || document.cluster === undefined) {
    throw new UsageError('the document has no kubeadm section', { hint: 'pipe in the document this cluster was initialised with, after ag-bundle unpack of the new release' });
  }
  const to = parseKubernetesVersion(document.cluster.kubernetesVersion);
  const controlPlane = (await exists(runner.path(PATHS.adminKubeconfig))) && (await exists(runner.path(PATHS.apiServerManifest)));
  const kubeconfig = runner.path(controlPlane ? PATHS.adminKubeconfig : PATHS.kubeletKubeconfig);
  if (!controlPlane && !(await exists(kubeconfig))) {
    throw new UsageError(`this node is not part of a cluster (${PATHS.kubeletKubeconfig} is missing)`, { hint: 'ag-kubeadm init or join it first' });
  }
  const cluster = await runningVersion(runner, kubeconfig);
  // The policy first: a skipped minor or a downgrade is refused before anything else is looked at.
  upgradeKind(cluster, to);
  const binaries = bundleBinaries(document, to.text, ['kubeadm', 'kubelet', 'kubectl']);
  const refs = kubeadmImages(to.text, section.imageRepository, componentTags(document)).filter((i) => controlPlane || i.component === 'kube-proxy' || i.component === 'pause');
  const images = await locateImages(document, runner, section.node.criSocket, refs.map((i) => i.ref), {
    what: `the upgrade to ${to.text} needs`,
    hint: 'carry them in the bundle of the new release (ag-fetch plan lists them), then ag-images push',
  });
  return { section, to, cluster, controlPlane, kubeconfig, binaries, images };
}

/** The kubeadm.upgrade record of a plan: what changes, and the steps for this node. */
export function upgradeRecord(state: UpgradeState, from: KubernetesVersion, role: UpgradeRole, node: string): KubeadmUpgrade {
  const kind = upgradeKind(from, state.to) ?? 'patch';
  const steps: KubeadmUpgradeStep[] = STEPS[role].map((step) => ({ node, step, status: 'planned' }));
  return {
    from: from.text,
    to: state.to.text,
    kind,
    plannedAt: new Date().toISOString(),
    images: state.images,
    binaries: state.binaries.map((b) => ({ name: b.name, version: b.version, path: b.path, installPath: b.installPath })),
    steps,
  };
}
