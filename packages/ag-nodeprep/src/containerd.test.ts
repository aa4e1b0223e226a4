import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedLayout, pauseStandIn, startContainerd, startRegistry, type PrivateContainerd, type RegistryFixture } from '@ag/fixtures';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { preloadImages } from './preload.js';
import { criPluginProblems } from './steps/containerd.js';
import { criPullImage, criStatusInfo } from './testing/cri-client.js';
import { DEBIAN_12, writeBundle, writeTree } from './testing/node-roots.js';
import { run } from './testing/run.js';

type Table = Record<string, unknown>;

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * `ag-registry trust --root` as a child process (a CLI never imports
 * another): the bundled tool when built, else its source through tsx; by
 * hand (the same hosts.toml, docs/hosts.md) only while ag-registry has none.
 */
async function registryTrust(root: string, registry: RegistryFixture): Promise<void> {
  const args = ['trust', '--root', root, '--registry', registry.host, '--ca-file', registry.caFile, '--no-credentials-file'];
  const built = join(REPO, 'packages/ag-registry/dist/ag-registry.mjs');
  const source = join(REPO, 'packages/ag-registry/src/bin.ts');
  if (existsSync(built)) await execa('node', [built, ...args], { stdin: 'ignore' });
  else if (existsSync(source)) await execa('node', ['--import', 'tsx', source, ...args], { cwd: REPO, stdin: 'ignore' });
  else {
    const hostDir = join(root, 'etc/containerd/certs.d/registry.k8s.io');
    await mkdir(hostDir, { recursive: true });
    await writeFile(join(hostDir, 'ca.crt'), await readFile(registry.caFile));
    await writeFile(
      join(hostDir, 'hosts.toml'),
      `server = "https://registry.k8s.io"\n\n[host."https://${registry.host}/v2/registry.k8s.io"]\n  capabilities = ["pull", "resolve"]\n  ca = "ca.crt"\n  override_path = true\n`,
    );
  }
  expect(await readFile(join(root, 'etc/containerd/certs.d/registry.k8s.io/hosts.toml'), 'utf8')).toContain(`[host."https://${registry.host}/v2/registry.k8s.io"]`);
}

/**
 * The config apply writes, started for real: Debian's containerd 1.6 with
 * root, state and sockets moved under a temp dir (the only edit), the CRI
 * loaded, and through the certs.d/registry.k8s.io/hosts.toml that `ag-registry trust`
 * writes, the kubelet's own
 * request (CRI PullImage) fetches registry.k8s.io/pause from an internal
 * registry with TLS, which then runs.
 */
describe('the generated containerd config, on a real containerd', () => {
  let dir: string;
  let root: string;
  let registry: RegistryFixture;
  let containerd: PrivateContainerd;
  let document: AgDocument;
  let layoutDir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'npc-'));
    root = join(dir, 'root');
    await writeTree(root, DEBIAN_12);
    document = await writeBundle(join(dir, 'bundle'));
    registry = await startRegistry({ dir: join(dir, 'registry') });
    layoutDir = join(dir, 'layout');
    const layout = await generatedLayout(layoutDir);
    await layout.writeImageSpec({ ref: 'registry.k8s.io/pause:3.9', platforms: [pauseStandIn()] });
    await registry.seed(layoutDir, 'registry.k8s.io/pause:3.9');

    document = { ...document, registry: { endpoint: registry.host, mode: 'distribution', dir: join(dir, 'registry'), caFile: registry.caFile } };
    // SystemdCgroup stays the default everywhere else; there is no systemd here.
    const args = ['--root', root, '--cgroup-driver', 'cgroupfs', '--skip', 'binaries,kubelet'];
    const applied = await run(['apply', ...args], document);
    expect(applied.code, applied.stderr).toBe(0);
    // Trust is ag-registry's: apply warns and check lists it until `ag-registry trust` ran.
    expect(applied.stderr).toContain('containerd would pull those from the internet');
    const before = await run(['check', ...args], document);
    expect(before.code).toBe(5);
    expect(before.stderr).toContain('not ready: containerd: no /etc/containerd/certs.d/<host>/hosts.toml for registry.k8s.io');
    await registryTrust(root, registry);
    const after = await run(['check', ...args], document);
    expect(after.code, after.stderr).toBe(0);

    const config = parse(await readFile(join(root, 'etc/containerd/config.toml'), 'utf8')) as Table;
    const cri = (config['plugins'] as Table)['io.containerd.grpc.v1.cri'] as Table;
    (cri['registry'] as Table)['config_path'] = join(root, 'etc/containerd/certs.d');
    const test = { ...config, root: '{{dir}}/root', state: '{{dir}}/state', grpc: { address: '{{dir}}/containerd.sock' }, ttrpc: { address: '{{dir}}/containerd.sock.ttrpc' } };
    containerd = await startContainerd({ config: stringify(test), dir: join(dir, 'c') });
  });

  afterAll(async () => {
    await containerd?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads with the CRI plugin enabled and the settings apply wrote', async () => {
    const plugins = await containerd.ctr(['plugins', 'ls']);
    expect(plugins.stdout).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
    const io = createTestIo();
    expect(await criPluginProblems({ io }, containerd.address)).toEqual([]);
    const criConfig = JSON.parse((await criStatusInfo(containerd.address))['config'] ?? '{}') as Table;
    expect(criConfig['sandboxImage']).toBe('registry.k8s.io/pause:3.9');
    expect((criConfig['registry'] as Table)['configPath']).toBe(join(root, 'etc/containerd/certs.d'));
    expect((criConfig['cni'] as Table)['binDir']).toBe('/opt/cni/bin');
    const runc = ((criConfig['containerd'] as Table)['runtimes'] as Table)['runc'] as Table;
    expect(runc['runtimeType']).toBe('io.containerd.runc.v2');
  });

  it('pulls registry.k8s.io/pause through certs.d from the internal registry over TLS, as the kubelet would, and runs it', async () => {
    const ref = await criPullImage(containerd.address, 'registry.k8s.io/pause:3.9');
    expect(ref).toMatch(/^sha256:[a-f0-9]{64}$/);
    const images = await containerd.ctr(['images', 'ls', '-q'], { namespace: 'k8s.io' });
    expect(images.stdout.split('\n')).toContain('registry.k8s.io/pause:3.9');
    expect(registry.log()).not.toMatch(/tls: bad certificate|unknown certificate/);
    const ran = await containerd.ctr(['run', '--rm', 'registry.k8s.io/pause:3.9', 'ag-nodeprep-pause', '/bin/echo', 'pause ran'], { namespace: 'k8s.io' });
    expect(ran.stdout.trim()).toBe('pause ran');
  });

  it('preloads images from the layout into k8s.io under their upstream names, once', async () => {
    const layout = await generatedLayout(layoutDir);
    const descriptor = await layout.writeImageSpec({ ref: 'registry.k8s.io/etcd:3.5.7-0', platforms: [pauseStandIn(undefined, 'etcd')] });
    const io = createTestIo();
    const images = [{ ref: 'registry.k8s.io/etcd:3.5.7-0', digest: descriptor.digest, mediaType: descriptor.mediaType }];
    const options = { layout: layoutDir, images, address: containerd.address, platform: 'linux/amd64', io };
    expect(await preloadImages(options)).toEqual(['registry.k8s.io/etcd:3.5.7-0']);
    const listed = await containerd.ctr(['images', 'ls'], { namespace: 'k8s.io' });
    expect(listed.stdout).toMatch(new RegExp(`registry\\.k8s\\.io/etcd:3\\.5\\.7-0\\s+\\S+\\s+${descriptor.digest}`));
    expect(await preloadImages(options)).toEqual([]);
    const ran = await containerd.ctr(['run', '--rm', 'registry.k8s.io/etcd:3.5.7-0', 'ag-nodeprep-etcd', '/bin/cat', '/etc/ag-image'], { namespace: 'k8s.io' });
    expect(ran.stdout.trim()).toBe('pause etcd');
  });
});
