import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeHelmDouble } from './helm-double.js';

describe("the helm double's input rules (Helm v3.12's)", () => {
  let dir: string;
  let helm: string;
  let chart: string;
  const run = (...args: string[]) => execa(helm, args, { cwd: dir, reject: false });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-helm-double-'));
    helm = join(dir, 'bin', 'helm');
    // containerd is not reached: every case here is refused before the pull.
    await writeHelmDouble(helm, { containerdSocket: join(dir, 'none.sock'), hostsDir: join(dir, 'certs.d'), platform: 'linux/amd64' });
    // The shape of the stand-in upstream's chart (tools/fixtures file-server stand-in-texts.ts) and of podinfo's own values.
    await mkdir(join(dir, 'chart', 'podinfo'), { recursive: true });
    await writeFile(join(dir, 'chart', 'podinfo', 'Chart.yaml'), 'apiVersion: v2\nname: podinfo\nversion: 6.4.0\nappVersion: 6.4.0\n');
    await writeFile(join(dir, 'chart', 'podinfo', 'values.yaml'), 'replicaCount: 1\nimage:\n  repository: ghcr.io/stefanprodan/podinfo\n  tag: 6.4.0\n');
    chart = join(dir, 'podinfo-6.4.0.tgz');
    await execa('tar', ['-czf', chart, '-C', join(dir, 'chart'), 'podinfo']);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses an upgrade without --install of a release that does not exist', async () => {
    const result = await run('upgrade', 'podinfo', chart);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('Error: "podinfo" has no deployed releases');
  });

  it('refuses a release name that is not a DNS-1123 label of at most 53 characters', async () => {
    for (const name of ['Podinfo', 'pod_info', 'a'.repeat(54)]) {
      const result = await run('upgrade', '--install', name, chart);
      expect(result.exitCode, name).toBe(1);
      expect(result.stderr).toContain('invalid release name');
    }
  });

  it('wants exactly a release and a chart, and a Go duration for --timeout', async () => {
    expect((await run('upgrade', '--install', 'podinfo')).stderr).toBe('Error: "helm upgrade" requires 2 arguments');
    expect((await run('upgrade', '--install', 'podinfo', chart, '--timeout', '5 minutes')).stderr).toContain('invalid argument "5 minutes" for "--timeout" flag');
    expect((await run('upgrade', '--install', 'podinfo', join(dir, 'nope.tgz'))).stderr).toContain('not found');
  });

  it('refuses an archive without a valid Chart.yaml', async () => {
    const bad = join(dir, 'bad.tgz');
    await mkdir(join(dir, 'bad', 'podinfo'), { recursive: true });
    await writeFile(join(dir, 'bad', 'podinfo', 'Chart.yaml'), 'apiVersion: v2\nname: podinfo\nversion: latest\n');
    await execa('tar', ['-czf', bad, '-C', join(dir, 'bad'), 'podinfo']);
    const result = await run('upgrade', '--install', 'podinfo', bad, '--wait', '--timeout', '5m');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('chart.metadata.version "latest" is invalid');
  });

  it('reads the image the chart names and hands it to containerd', async () => {
    const result = await run('upgrade', '--install', 'podinfo', chart, '--wait', '--timeout', '5m');
    // No containerd at that socket: the pull of the chart's image, by its upstream name, is what fails.
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/none\.sock/);
  });
});
