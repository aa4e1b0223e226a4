import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import {
  DOCKER_REGISTRY_BIN,
  echoImage,
  freePort,
  generatedLayout,
  LINUX_AMD64,
  registryImage,
  startContainerd,
  type PrivateContainerd,
} from '@ag/fixtures';
import { main } from './cli.js';
import { cli } from './testing/run.js';
import { registryPaths } from './paths.js';


let dir: string;
let registryDir: string;
let endpoint: string;
let containerd: PrivateContainerd;
let upArgs: string[];


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-ctrd-'));
  const layout = await generatedLayout(join(dir, 'images'));
  // The kit's registry image carries the shared objects Debian's binary links.
  await layout.writeImageSpec({ ref: 'docker.io/library/registry:2.8.2', mediaTypes: 'oci', platforms: [registryImage(LINUX_AMD64)] });
  await layout.writeImageSpec({ ref: 'ghcr.io/stefanprodan/podinfo:6.4.0', mediaTypes: 'oci', index: false, platforms: [echoImage('podinfo', LINUX_AMD64)] });
  containerd = await startContainerd();
  registryDir = join(dir, 'registry');
  endpoint = `127.0.0.1:${await freePort()}`;
  upArgs = ['up', '--mode', 'containerd', '--state-dir', registryDir, '--layout', join(dir, 'images'), '--listen', endpoint, '--containerd-address', containerd.address, '--host', 'localhost', '--ip', '127.0.0.1'];
});

afterAll(async () => {
  await main(['down', '--state-dir', registryDir], createTestIo());
  await containerd?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('ag-registry up --mode containerd', () => {
  it('runs the registry image from the bundle with ctr (host network, the directory mounted) and serves pushes', async () => {
    const up = await cli(upArgs);
    expect(up.code, up.stderr).toBe(0);
    const registry = JSON.parse(up.stdout).registry;
    expect(registry).toMatchObject({ endpoint, mode: 'containerd', runner: 'containerd', server: { image: 'docker.io/library/registry:2.8.2' } });
    expect(registry.stop).toBe(`ag-registry down --state-dir ${registryDir}`);
    const tasks = await containerd.ctr(['tasks', 'ls'], { namespace: 'ag' });
    expect(tasks.stdout).toMatch(/ag-registry\s+\d+\s+RUNNING/);
    // The image came from the layout, not from any registry: it is in containerd under its upstream name.
    expect((await containerd.ctr(['images', 'ls', '-q'], { namespace: 'ag' })).stdout).toContain('docker.io/library/registry:2.8.2');

    const certDir = join(dir, 'client-certs');
    await mkdir(certDir);
    await copyFile(registryPaths(registryDir).caCert, join(certDir, 'ca.crt'));
    const credentials = (await readFile(registryPaths(registryDir).credentials, 'utf8')).trim();
    await execa('skopeo', [
      'copy', '--dest-cert-dir', certDir, '--dest-creds', credentials,
      `oci:${join(dir, 'images')}:ghcr.io/stefanprodan/podinfo:6.4.0`, `docker://${endpoint}/ghcr.io/stefanprodan/podinfo:6.4.0`,
    ]);
    const { stdout } = await execa('skopeo', ['inspect', '--cert-dir', certDir, '--creds', credentials, `docker://${endpoint}/ghcr.io/stefanprodan/podinfo:6.4.0`]);
    expect(JSON.parse(stdout).Architecture).toBe('amd64');
    // Storage is the host directory, mounted into the container at the same path.
    await expect(stat(join(registryDir, 'storage', 'docker', 'registry', 'v2', 'repositories', 'ghcr.io', 'stefanprodan', 'podinfo'))).resolves.toBeDefined();
    const anonymous = await execa('skopeo', ['inspect', '--cert-dir', certDir, `docker://${endpoint}/ghcr.io/stefanprodan/podinfo:6.4.0`]).then(() => 'accepted', (e: Error) => e.message);
    expect(anonymous).toMatch(/authentication required|unauthorized/i);
    const status = await cli(['status', '--state-dir', registryDir]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).registry.status).toMatchObject({ running: true, answering: true, repositories: 1 });
  });

  it('is idempotent, and down removes the container', async () => {
    const again = await cli(upArgs);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already runs with this configuration');
    const down = await cli(['down', '--state-dir', registryDir]);
    expect(down.code, down.stderr).toBe(0);
    expect((await containerd.ctr(['containers', 'ls', '-q'], { namespace: 'ag' })).stdout.trim()).toBe('');
    expect((await cli(['status', '--state-dir', registryDir])).code).toBe(4);
  });

  it('distribution mode (the default when the bundle has the registry image) runs the binary taken out of the image', async () => {
    const distDir = join(dir, 'dist');
    const distEndpoint = `127.0.0.1:${await freePort()}`;
    const args = ['up', '--state-dir', distDir, '--layout', join(dir, 'images'), '--listen', distEndpoint, '--init', 'process'];
    try {
      const up = await cli(args);
      expect(up.code, up.stderr).toBe(0);
      const registry = JSON.parse(up.stdout).registry;
      const binary = join(distDir, 'bin', 'registry');
      const sha256 = createHash('sha256').update(await readFile(DOCKER_REGISTRY_BIN)).digest('hex');
      expect(registry).toMatchObject({ mode: 'distribution', runner: 'process', server: { binary, binarySha256: sha256, image: 'docker.io/library/registry:2.8.2' } });
      expect(((await stat(binary)).mode & 0o777).toString(8)).toBe('755');
      expect(up.stderr).toContain('extracted the registry binary /bin/registry of docker.io/library/registry:2.8.2');
      // The certificate defaults to this host's names and addresses, and covers the endpoint.
      expect(registry.certificates.sans).toEqual(expect.arrayContaining(['DNS:localhost', 'IP:127.0.0.1']));
      const again = await cli(args);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('using the registry binary');
      expect(again.stderr).toContain('already runs with this configuration');
    } finally {
      await cli(['down', '--state-dir', distDir]);
    }
  });
});
