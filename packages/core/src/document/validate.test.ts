import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { API_VERSION, type AgDocument } from './schema.js';
import { validateDocument } from './validate.js';

function documentWith(cluster: Partial<NonNullable<AgDocument['cluster']>>, extra: Partial<AgDocument> = {}): AgDocument {
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    cluster: {
      kubernetesVersion: 'v1.31.2',
      architectures: ['amd64'],
      os: 'debian-12',
      cni: { name: 'flannel', version: 'v0.26.1' },
      podSubnet: '10.244.0.0/16',
      serviceSubnet: '10.96.0.0/12',
      dnsDomain: 'cluster.local',
      ...cluster,
    },
    ...extra,
  };
}

function problemsOf(document: unknown): string {
  try {
    validateDocument(document, 'reading the document from stdin');
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    return (error as UsageError).message;
  }
  return '';
}

const kubeadm = (advertiseAddress: string, controlPlaneEndpoint?: string): Partial<AgDocument> => ({
  kubeadm: {
    configFile: '/etc/kubernetes/ag/kubeadm-config.yaml',
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kubernetesVersion: 'v1.31.2',
    config: '',
    imageRepository: 'registry.k8s.io',
    imageSource: 'upstream',
    sandboxImage: 'registry.k8s.io/pause:3.10',
    images: [],
    node: { name: 'cp1', advertiseAddress, bindPort: 6443, criSocket: 'unix:///var/run/containerd/containerd.sock' },
    singleNode: false,
    ...(controlPlaneEndpoint === undefined ? {} : { controlPlaneEndpoint }),
  },
});

describe('validateDocument: the networks', () => {
  it('accepts sound networks', () => {
    expect(problemsOf(documentWith({}, kubeadm('192.168.56.10', '192.168.56.100:6443')))).toBe('');
    expect(problemsOf(documentWith({ podSubnet: '10.244.0.0/16,fd00:10:244::/56', serviceSubnet: '10.96.0.0/16,fd00:10:96::/112' }))).toBe('');
  });

  it("refuses what passed every stage before: 'banana' and a /33, naming the JSON path", () => {
    expect(problemsOf(documentWith({ podSubnet: 'banana' }))).toContain('$.cluster.podSubnet "banana": not a CIDR');
    expect(problemsOf(documentWith({ podSubnet: '10.244.0.0/33' }))).toContain('$.cluster.podSubnet "10.244.0.0/33": the prefix length /33 is longer');
  });

  it('refuses overlaps between the subnets and the addresses the document records, naming both', () => {
    expect(problemsOf(documentWith({ serviceSubnet: '10.244.0.0/16' }))).toContain(
      '$.cluster.podSubnet "10.244.0.0/16" overlaps $.cluster.serviceSubnet "10.244.0.0/16": the same range',
    );
    expect(problemsOf(documentWith({}, kubeadm('10.96.0.1')))).toContain('$.cluster.serviceSubnet "10.96.0.0/12" overlaps $.kubeadm.node.advertiseAddress "10.96.0.1"');
    expect(problemsOf(documentWith({}, kubeadm('192.168.56.10', '[fd00:10:244::1]:6443')))).toBe('');
    expect(problemsOf(documentWith({ podSubnet: '10.244.0.0/16,fd00:10:244::/56' }, kubeadm('192.168.56.10', '[fd00:10:244::1]:6443')))).toContain(
      '$.kubeadm.controlPlaneEndpoint "fd00:10:244::1"',
    );
    const nodeprep = { root: '/', os: { id: 'debian', version: '12', family: 'debian' }, skipped: [], actions: [], changes: 0 };
    expect(problemsOf(documentWith({}, { nodeprep: { ...nodeprep, dns: { resolvConf: '/etc/resolv.conf', nameservers: ['10.96.0.10'] } } }))).toContain(
      '$.nodeprep.dns.nameservers[0] "10.96.0.10"',
    );
    expect(problemsOf(documentWith({}, { nodeprep: { ...nodeprep, dns: { resolvConf: '/etc/resolv.conf', nameservers: ['dns.site'] } } }))).toContain(
      '$.nodeprep.dns.nameservers[0] "dns.site": not an IP address',
    );
  });

  it('reports schema errors first, networks only on a document of the right shape', () => {
    const message = problemsOf({ ...documentWith({ podSubnet: 'banana' }), kind: 'Other' });
    expect(message).toContain('$.kind');
    expect(message).not.toContain('banana');
  });
});
