import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import {
  DOCKER_REGISTRY_BIN,
  echoImage,
  freePort,
  generatedLayout,
  LINUX_AMD64,
  REAL_CONTAINERDS,
  registryImage,
  startContainerd,
  type PrivateContainerd,
} from '@ag/fixtures';
import { main } from './cli.js';
import { cli } from './testing/run.js';
import { registryPaths } from './paths.js';


let dir: string;


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-ctrd-'));
  const layout = await generatedLayout(join(dir, 'images'));
  // The kit's registry image carries the shared objects Debian's binary links.
  await layout.writeImageSpec({ ref: 'docker.io/library/registry:2.8.2', mediaTypes: 'oci', platforms: [registryImage(LINUX_AMD64)] });
  await layout.writeImageSpec({ ref: 'ghcr.io/stefanprodan/podinfo:6.4.0', mediaTypes: 'oci', index: false, platforms: [echoImage('podinfo', LINUX_AMD64)] });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// On the far side's own containerd, whichever it runs: Debian 12's 1.6, or a 2.x as current Kubernetes needs.
describe.each([...REAL_CONTAINERDS])('ag-registry up --mode containerd, on $name', (real) => {
  let registryDir: string;
  let endpoint: string;
  let containerd: PrivateContainerd;
  let upArgs: string[];
  let env: Record<string, string> | undefined;
  /** ag-registry with this containerd's ctr first on PATH. */
  const registryCli = (argv: string[]): ReturnType<typeof cli> => cli(argv, undefined, env);

  beforeAll(async () => {
    const { binDir } = await real.obtain();
    // ag-registry runs the ctr on its PATH: the one beside this containerd.
    env = binDir === undefined ? undefined : { PATH: `${binDir}:/usr/bin:/bin` };
    containerd = await startContainerd(binDir === undefined ? {} : { binDir });
    registryDir = join(dir, `registry-${real.configVersion}`);
    endpoint = `127.0.0.1:${await freePort()}`;
    upArgs = ['up', '--mode', 'containerd', '--state-dir', registryDir, '--layout', join(dir, 'images'), '--listen', endpoint, '--containerd-address', containerd.address, '--host', 'localhost', '--ip', '127.0.0.1'];
  });

  afterAll(async () => {
    await main(['down', '--state-dir', registryDir], createTestIo(env === undefined ? {} : { env }));
    await containerd?.stop();
  });

  it('runs the registry image from the bundle with ctr (host network, the directory mounted) and serves pushes', async () => {
    const up = await registryCli(upArgs);
    expect(up.code, up.stderr).toBe(0);
    const registry = JSON.parse(up.stdout).registry;
    expect(registry).toMatchObject({ endpoint, mode: 'containerd', runner: 'containerd', server: { image: 'docker.io/library/registry:2.8.2' } });
    expect(registry.stop).toBe(`ag-registry down --state-dir ${registryDir}`);
    const tasks = await containerd.ctr(['tasks', 'ls'], { namespace: 'ag' });
    expect(tasks.stdout).toMatch(/ag-registry\s+\d+\s+RUNNING/);
    // The image came from the layout, not from any registry: it is in containerd under its upstream name.
    expect((await containerd.ctr(['images', 'ls', '-q'], { namespace: 'ag' })).stdout).toContain('docker.io/library/registry:2.8.2');

    const certDir = join(dir, `client-certs-${real.configVersion}`);
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
    const status = await registryCli(['status', '--state-dir', registryDir]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).registry.status).toMatchObject({ running: true, answering: true, repositories: 1 });
  });

  it('is started again by containerd when its process dies (the restart monitor, through the labels ag sets)', async () => {
    const taskPid = async (): Promise<number | undefined> => {
      const tasks = (await containerd.ctr(['tasks', 'ls'], { namespace: 'ag' })).stdout;
      const match = /^ag-registry\s+(\d+)\s+RUNNING/m.exec(tasks);
      return match === null ? undefined : Number(match[1]);
    };
    const before = await taskPid();
    expect(before).toBeDefined();
    await containerd.ctr(['tasks', 'kill', '--signal', 'SIGKILL', 'ag-registry'], { namespace: 'ag' });
    // The monitor looks every 10 s (its default interval): 30 s is a registry that stays down.
    const after = await pollUntil(
      async () => {
        const pid = await taskPid();
        return pid !== undefined && pid !== before ? pid : undefined;
      },
      { what: 'containerd to start the killed registry again', timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(after).not.toBe(before);
    const status = await pollUntil(
      async () => {
        const result = await registryCli(['status', '--state-dir', registryDir]);
        const seen = result.code === 0 ? (JSON.parse(result.stdout) as { registry: { status: { answering: boolean; repositories: number } } }).registry.status : undefined;
        return seen?.answering === true ? seen : undefined;
      },
      { what: 'the restarted registry to answer', timeoutMs: 15_000, intervalMs: 250 },
    );
    // The storage is the host directory: what was pushed before is still there.
    expect(status.repositories).toBe(1);
  });

  it('is idempotent, and down removes the container', async () => {
    const again = await registryCli(upArgs);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already runs with this configuration');
    const down = await registryCli(['down', '--state-dir', registryDir]);
    expect(down.code, down.stderr).toBe(0);
    expect((await containerd.ctr(['containers', 'ls', '-q'], { namespace: 'ag' })).stdout.trim()).toBe('');
    expect((await registryCli(['status', '--state-dir', registryDir])).code).toBe(4);
  });
});

describe('ag-registry up, distribution mode', () => {
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
