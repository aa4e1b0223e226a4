import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { UsageError, type AgDocument, type KubeadmKubelet } from '@ag/core';
import { readSandboxSetting } from './containerd-sandbox.js';
import { hostPath, PATHS } from './host.js';

export type CgroupDriver = 'systemd' | 'cgroupfs';

/**
 * What the KubeletConfiguration tells every kubelet, from what ag-nodeprep
 * set up:
 * - `cgroupDriver`: nodeprep.containerd.cgroupDriver (containerd's runc
 *   SystemdCgroup), else `systemd` (kubeadm's default since 1.22, written
 *   explicitly so that nobody has to know that);
 * - `resolvConf`: nodeprep.dns.resolvConf, the site's nameserver file, when
 *   ag-nodeprep recorded one (otherwise kubeadm would point the kubelet at
 *   systemd-resolved's own file whenever resolved runs).
 *
 * The kubelet and containerd must use the same cgroup driver (kubernetes.io
 * "Configuring a cgroup driver"), so every other place that says which one
 * is used must agree, or this refuses with a usage error naming both:
 * `--kubelet-arg cgroup-driver=…` (and resolv-conf), containerd's config.toml
 * on this node, and a kubelet configuration kubeadm already wrote here
 * (/var/lib/kubelet/config.yaml).
 */
export async function kubeletSettings(document: AgDocument, kubeletArgs: Array<[string, string]>, hostRoot: string): Promise<KubeadmKubelet> {
  const nodeprep = document.nodeprep;
  const recorded = nodeprep?.containerd?.cgroupDriver;
  const flag = kubeletArgs.find(([name]) => name === 'cgroup-driver')?.[1];
  if (flag !== undefined && flag !== 'systemd' && flag !== 'cgroupfs') throw new UsageError(`--kubelet-arg cgroup-driver=${flag} is neither systemd nor cgroupfs`);
  if (flag !== undefined && recorded !== undefined && flag !== recorded) {
    throw new UsageError(
      `--kubelet-arg cgroup-driver=${flag} would tell the kubelet ${flag}, but ag-nodeprep configured containerd's runc for ${recorded} (nodeprep.containerd.cgroupDriver)`,
      { hint: `drop --kubelet-arg cgroup-driver, or run ag-nodeprep apply --cgroup-driver ${flag} first: the kubelet and containerd must use the same driver` },
    );
  }
  const cgroupDriver = (flag ?? recorded ?? 'systemd') as CgroupDriver;
  const from: KubeadmKubelet['cgroupDriverFrom'] = flag !== undefined ? 'flag' : recorded !== undefined ? 'nodeprep' : 'default';
  const told = from === 'flag' ? '--kubelet-arg cgroup-driver' : from === 'nodeprep' ? 'nodeprep.containerd.cgroupDriver' : "kubeadm's default";

  const containerd = await readSandboxSetting(hostPath(hostRoot, PATHS.containerdConfig));
  if (containerd?.systemdCgroup !== undefined && (containerd.systemdCgroup ? 'systemd' : 'cgroupfs') !== cgroupDriver) {
    const actual = containerd.systemdCgroup ? 'systemd' : 'cgroupfs';
    throw new UsageError(
      `containerd on this node uses the ${actual} cgroup driver (SystemdCgroup = ${containerd.systemdCgroup} in ${PATHS.containerdConfig}), but the kubelet would be told ${cgroupDriver} (${told})`,
      { hint: 'run ag-nodeprep apply with this document (it records the driver it configures) and restart containerd, or pass --kubelet-arg cgroup-driver to match' },
    );
  }
  const existing = await readExistingKubeletConfig(hostRoot);
  if (existing?.cgroupDriver !== undefined && existing.cgroupDriver !== cgroupDriver) {
    throw new UsageError(
      `the kubelet on this node is already configured with cgroupDriver ${existing.cgroupDriver} (${PATHS.kubeletConfig}), but this configuration would tell it ${cgroupDriver} (${told})`,
      { hint: 'this node was initialised or joined with another driver: ag-kubeadm reset it first, or make ag-nodeprep configure the driver it runs with' },
    );
  }

  const resolvFlag = kubeletArgs.find(([name]) => name === 'resolv-conf')?.[1];
  const resolvConf = nodeprep?.dns?.resolvConf;
  if (resolvFlag !== undefined && resolvConf !== undefined && resolvFlag !== resolvConf) {
    throw new UsageError(`--kubelet-arg resolv-conf=${resolvFlag} differs from the site's nameserver file ag-nodeprep wrote, ${resolvConf} (nodeprep.dns.resolvConf)`, {
      hint: 'drop --kubelet-arg resolv-conf: the KubeletConfiguration carries nodeprep.dns.resolvConf',
    });
  }
  const settings: KubeadmKubelet = { cgroupDriver, cgroupDriverFrom: from };
  const resolv = resolvFlag ?? resolvConf;
  if (resolv !== undefined) settings.resolvConf = resolv;
  return settings;
}

async function readExistingKubeletConfig(hostRoot: string): Promise<{ cgroupDriver?: string } | undefined> {
  const text = await readFile(hostPath(hostRoot, PATHS.kubeletConfig), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = parse(text) as Record<string, unknown> | null;
    return typeof value?.['cgroupDriver'] === 'string' ? { cgroupDriver: value['cgroupDriver'] } : {};
  } catch {
    return {};
  }
}

/** The KubeletConfiguration document (kubelet.config.k8s.io/v1beta1, kubernetes/kubelet config/v1beta1/types.go). */
export function kubeletConfigurationObject(settings: KubeadmKubelet): Record<string, unknown> {
  const object: Record<string, unknown> = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: settings.cgroupDriver };
  if (settings.resolvConf !== undefined) object['resolvConf'] = settings.resolvConf;
  return object;
}

/** The kubelet flags the KubeletConfiguration now carries: passing them too would only restate (or silently override) it. */
export function withoutConfiguredFlags(args: Array<[string, string]>): Array<[string, string]> {
  return args.filter(([name]) => name !== 'cgroup-driver' && name !== 'resolv-conf');
}
