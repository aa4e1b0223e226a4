import { access } from 'node:fs/promises';
import { containerdSupported, containerdVersionOf, hostArchitecture, SystemError, VerificationError, type AgDocument, type KubeadmPreflightCheck } from '@ag/core';
import type { Runner } from './context.js';
import { parseKubernetesVersion, type KubernetesVersion } from './version.js';

/**
 * Checks of the node and the bundle before kubeadm runs, besides images:
 * version skew inside the bundle, the containerd release, cgroup v2.
 */

/**
 * Version skew among the bundle's kubeadm, kubelet and kubectl and the
 * control plane they are for (kubernetes.io/releases/version-skew-policy and
 * kubeadm's "Version skew policy", docs/setup/production-environment/tools/
 * kubeadm/create-cluster-kubeadm):
 * - kubeadm deploys a control plane of its own minor or the one before;
 * - the kubelet may not be newer than kube-apiserver, and at most three
 *   minors older (two before 1.28, when the policy widened: KEP-3935);
 * - kubectl within one minor of kube-apiserver.
 * Versions come from fetch.files (what the bundle carries) and, when it is
 * installed, from `kubeadm version -o short` (what will run).
 */
export function versionSkew(document: AgDocument, controlPlane: KubernetesVersion, installedKubeadm?: string): KubeadmPreflightCheck {
  const arch = hostArchitecture();
  const carried = (name: string): { version: KubernetesVersion; where: string } | undefined => {
    const file = (document.fetch?.files ?? []).find((f) => f.name === name && f.kind === 'binary' && (f.arch === undefined || f.arch === arch) && f.version !== undefined);
    return file === undefined ? undefined : { version: parseKubernetesVersion(file.version!), where: `the bundle's ${name} ${file.version}` };
  };
  const kubeadm = installedKubeadm !== undefined ? { version: parseKubernetesVersion(installedKubeadm), where: `the installed kubeadm ${installedKubeadm}` } : carried('kubeadm');
  const kubelet = carried('kubelet');
  const kubectl = carried('kubectl');
  const cp = `the control plane ${controlPlane.text}`;
  const problems: string[] = [];
  if (kubeadm !== undefined && controlPlane.minor !== kubeadm.version.minor && controlPlane.minor !== kubeadm.version.minor - 1) {
    problems.push(`${kubeadm.where} deploys only its own minor or the one before, not ${cp}`);
  }
  const kubeletSkew = controlPlane.minor >= 28 ? 3 : 2;
  if (kubelet !== undefined && kubelet.version.minor > controlPlane.minor) problems.push(`${kubelet.where} is newer than ${cp}`);
  if (kubelet !== undefined && controlPlane.minor - kubelet.version.minor > kubeletSkew) problems.push(`${kubelet.where} is more than ${kubeletSkew} minors older than ${cp}`);
  if (kubectl !== undefined && Math.abs(kubectl.version.minor - controlPlane.minor) > 1) problems.push(`${kubectl.where} is more than one minor away from ${cp}`);
  if (problems.length > 0) {
    throw new VerificationError(`version skew: ${problems.join('; ')}`, {
      hint: 'carry kubeadm, kubelet and kubectl of the cluster version (ag-fetch plan does unless --component overrides them)',
    });
  }
  const seen = [kubeadm, kubelet, kubectl].filter((x) => x !== undefined).map((x) => x.where);
  return seen.length === 0
    ? { name: 'version-skew', result: 'skipped', detail: 'the document names no kubeadm, kubelet or kubectl binary' }
    : { name: 'version-skew', result: 'ok', detail: `${seen.join(', ')} fit ${cp}` };
}

/**
 * The node's containerd against containerd's support table
 * (@ag/core, containerd-support.ts). The version is what ag-nodeprep recorded, else
 * `containerd --version` on this host; with --root and nothing
 * recorded the check is skipped.
 */
export async function containerdRelease(document: AgDocument, controlPlane: KubernetesVersion, runner: Runner): Promise<KubeadmPreflightCheck> {
  const recorded = document.nodeprep?.containerd;
  let version = recorded?.versionSource !== 'default' ? containerdVersionOf(recorded?.version ?? '') : undefined;
  let source = `nodeprep.containerd.version (${recorded?.versionSource})`;
  if (version === undefined && runner.hostRoot === '/') {
    const answered = await runner.run('containerd', ['--version'], { allowFailure: true, streamStderr: false }).catch(() => undefined);
    version = containerdVersionOf(answered?.stdout ?? '');
    source = 'containerd --version';
  }
  if (version === undefined) return { name: 'containerd-version', result: 'skipped', detail: 'the containerd version is unknown (not recorded by ag-nodeprep)' };
  const minor = `${controlPlane.major}.${controlPlane.minor}`;
  const verdict = containerdSupported(minor, version);
  if ('unknown' in verdict) return { name: 'containerd-version', result: 'warning', detail: `${verdict.unknown}; containerd ${version} not checked` };
  if (!verdict.supported) {
    throw new SystemError(`${verdict.why} (version from ${source})`, {
      hint: "carry a supported containerd (ag-fetch plan --containerd upstream, or an OS package) and run ag-nodeprep apply; see containerd's RELEASES.md, Kubernetes Support",
    });
  }
  return { name: 'containerd-version', result: 'ok', detail: `containerd ${version} (${source}) is supported for Kubernetes ${minor} (${verdict.by})` };
}

/** The first minor whose kubelet refuses a cgroup v1 host by default (failCgroupV1 defaults to true: kubernetes/kubernetes PR #134298, KEP-5573). */
export const FAIL_CGROUP_V1_FROM = 35;

/**
 * cgroup v2 or v1: the unified hierarchy has cgroup.controllers at
 * /sys/fs/cgroup (kernel Documentation/admin-guide/cgroup-v2.rst; runc's
 * IsCgroup2UnifiedMode looks at the same mount). A cgroup v1 host is
 * refused for releases whose kubelet no longer starts there by default; for
 * older releases it is a warning (cgroup v1 in maintenance mode since 1.31, KEP-4569).
 */
export async function cgroupVersion(runner: Runner, controlPlane: KubernetesVersion): Promise<KubeadmPreflightCheck> {
  const exists = (p: string): Promise<boolean> => access(runner.path(p)).then(() => true, () => false);
  if (!(await exists('/sys/fs/cgroup'))) return { name: 'cgroup-v2', result: 'skipped', detail: `${runner.path('/sys/fs/cgroup')} does not exist (not a live root)` };
  if (await exists('/sys/fs/cgroup/cgroup.controllers')) return { name: 'cgroup-v2', result: 'ok', detail: 'the host runs cgroup v2' };
  if (controlPlane.minor >= FAIL_CGROUP_V1_FROM) {
    throw new SystemError(
      `this host runs cgroup v1, and the kubelet of Kubernetes ${controlPlane.text} refuses to start on cgroup v1: its KubeletConfiguration setting failCgroupV1 defaults to true from 1.${FAIL_CGROUP_V1_FROM}`,
      {
        hint: 'boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1), or stay on 1.34; keeping cgroup v1 takes failCgroupV1: false in the KubeletConfiguration and kubeadm --ignore-preflight-errors=SystemVerification, which ag does not set',
      },
    );
  }
  return { name: 'cgroup-v2', result: 'warning', detail: `the host runs cgroup v1: Kubernetes 1.${FAIL_CGROUP_V1_FROM} and later refuse it by default (failCgroupV1)` };
}
