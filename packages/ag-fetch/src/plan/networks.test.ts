import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import { main } from '../cli.js';

const BASE = ['plan', '--kubernetes-version', 'v1.27.3', '--os', 'debian-12', '--cni', 'flannel@v0.22.0', '--no-checksums'];

async function plan(...flags: string[]): Promise<{ code: number; stdout: string; stderr: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ag-fetch-networks-'));
  const io = createTestIo();
  const code = await main([...BASE, '--dir', dir, ...flags], io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText(), dir };
}

describe('ag-fetch plan: the cluster networks', () => {
  it('refuses a pod subnet that is not a CIDR, or an impossible one, with exit 2 before planning anything', async () => {
    for (const [value, problem] of [
      ['banana', 'not a CIDR'],
      ['10.244.0.0/33', 'the prefix length /33 is longer than an IPv4 address (32 bits)'],
      ['10.244.7.0/16', 'host bits are set; the network is 10.244.0.0/16'],
      ['10.244.0.0/25', "a /25 cannot hold one node's /24"],
    ] as const) {
      const { code, stdout, stderr, dir } = await plan('--pod-subnet', value);
      expect(code, value).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(`--pod-subnet (cluster.podSubnet) "${value}": ${problem}`);
      expect(await readdir(dir)).toEqual([]);
    }
  });

  it('refuses overlapping pod and service subnets, naming both ranges', async () => {
    const { code, stderr } = await plan('--pod-subnet', '10.0.0.0/8');
    expect(code).toBe(2);
    expect(stderr).toContain('--pod-subnet (cluster.podSubnet) "10.0.0.0/8" overlaps --service-subnet (cluster.serviceSubnet) "10.96.0.0/12": 10.96.0.0/12 lies inside 10.0.0.0/8');
  });

  it('records a sound dual-stack pair as given', async () => {
    const { code, stdout, stderr } = await plan('--pod-subnet', '10.244.0.0/16,fd00:10:244::/56', '--service-subnet', '10.96.0.0/16,fd00:10:96::/112');
    expect(stderr).not.toContain('not valid');
    expect(code).toBe(0);
    const cluster = (JSON.parse(stdout) as { cluster: Record<string, string> }).cluster;
    expect([cluster['podSubnet'], cluster['serviceSubnet']]).toEqual(['10.244.0.0/16,fd00:10:244::/56', '10.96.0.0/16,fd00:10:96::/112']);
  });
});
