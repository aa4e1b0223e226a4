import { API_VERSION, type AgDocument } from '@ag/core';

/** The component versions kubeadm of each release asks for (`kubeadm config images list`), per REFERENCE.md. */
export const COMPONENTS: Record<string, Record<string, string>> = {
  'v1.27.3': { pause: '3.9', etcd: '3.5.7-0', coredns: 'v1.10.1', crictl: 'v1.27.0' },
  'v1.30.2': { pause: '3.9', etcd: '3.5.12-0', coredns: 'v1.11.1', crictl: 'v1.30.0' },
  'v1.31.1': { pause: '3.10', etcd: '3.5.15-0', coredns: 'v1.11.3', crictl: 'v1.31.1' },
};

/** A document as ag-fetch plan (and, with `registry`, ag-registry up) leave it, built by hand. */
export function clusterDocument(version: string, extra: Partial<AgDocument> = {}): AgDocument {
  const components = COMPONENTS[version];
  if (components === undefined) throw new Error(`no components for ${version}`);
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    cluster: {
      kubernetesVersion: version,
      architectures: ['amd64'],
      os: 'fedora-37',
      cni: { name: 'flannel', version: 'v0.22.0' },
      podSubnet: '10.244.0.0/16',
      serviceSubnet: '10.96.0.0/12',
      dnsDomain: 'cluster.local',
    },
    fetch: {
      components: { ...components },
      imageList: { source: 'kubeadm', detail: `kubeadm config images list --kubernetes-version ${version}` },
      files: [],
      images: [],
    },
    ...extra,
  };
}

export const REGISTRY = { endpoint: '10.0.0.5:5000', mode: 'distribution' as const, dir: '/var/lib/ag-registry', caFile: '/etc/ag-registry/ca.crt' };

/** The nodeprep section ag-nodeprep apply leaves: containerd's cgroup driver and, optionally, the site's nameserver file. */
export function nodeprepSection(cgroupDriver: 'systemd' | 'cgroupfs', resolvConf?: string): NonNullable<AgDocument['nodeprep']> {
  return {
    root: '/',
    os: { id: 'debian', version: '12', family: 'debian' },
    skipped: [],
    actions: [],
    changes: 0,
    containerd: {
      version: '1.6.20',
      versionSource: 'dpkg status',
      configVersion: 2,
      configFile: '/etc/containerd/config.toml',
      cgroupDriver,
      registryConfigPath: '/etc/containerd/certs.d',
      trust: 'ag-registry trust',
    },
    ...(resolvConf === undefined ? {} : { dns: { resolvConf, nameservers: ['192.0.2.53'] } }),
  };
}
