import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, type AgDocument } from '@ag/core';
import { configureKubeadm } from './config.js';
import { clusterDocument } from './testdata/documents.js';

/** configureKubeadm is also a library call: it checks the networks itself, not only through the CLI's document validation. */
async function refusal(cluster: Partial<NonNullable<AgDocument['cluster']>>, advertiseAddress = '192.168.56.10'): Promise<{ error: UsageError; written: string[] }> {
  const base = clusterDocument('v1.27.3');
  const hostRoot = await mkdtemp(join(tmpdir(), 'ag-kubeadm-networks-'));
  const error = await configureKubeadm({ ...base, cluster: { ...base.cluster!, ...cluster } }, { hostRoot, advertiseAddress, nodeName: 'cp1' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UsageError);
  return { error: error as UsageError, written: await readdir(hostRoot, { recursive: true }) };
}

describe('ag-kubeadm config: the networks', () => {
  it('refuses a pod subnet kubeadm would refuse, with exit 2, before writing the configuration', async () => {
    const { error, written } = await refusal({ podSubnet: '10.244.0.0/33' });
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('cluster.podSubnet "10.244.0.0/33": the prefix length /33 is longer than an IPv4 address (32 bits)');
    expect(written).toEqual([]);
    expect((await refusal({ serviceSubnet: 'banana' })).error.message).toContain('cluster.serviceSubnet "banana": not a CIDR');
  });

  it('refuses an advertise address inside the pod or service network, naming both', async () => {
    const { error } = await refusal({}, '10.244.0.7');
    expect(error.message).toContain('cluster.podSubnet "10.244.0.0/16" overlaps kubeadm.node.advertiseAddress "10.244.0.7": 10.244.0.7/32 lies inside 10.244.0.0/16');
  });
});
