import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_CONTAINERDS, generatedLayout, pauseStandIn, startContainerd, startRegistry, type PrivateContainerd, type RegistryFixture } from '@ag/fixtures';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { preloadImages } from './preload.js';
import { containerdSettings } from './containerd-config.js';
import { criPluginProblems } from './steps/containerd.js';
import { criPodSandboxStatus, criPullImage, criRemovePodSandbox, criRunPodSandbox, criStatusInfo } from './testing/cri-client.js';
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

/** The table holding registry.config_path in a config of either version. */
function registryTable(config: Table): Table {
  const plugins = config['plugins'] as Table;
  const images = (plugins['io.containerd.grpc.v1.cri'] ?? plugins['io.containerd.cri.v1.images']) as Table;
  return images['registry'] as Table;
}

/** The CRI's runtime settings (the whole CRI plugin in version 2) in a config of either version. */
function criRuntimeTable(config: Table): Table {
  const plugins = config['plugins'] as Table;
  return (plugins['io.containerd.grpc.v1.cri'] ?? plugins['io.containerd.cri.v1.runtime']) as Table;
}

/** Debian's CNI plugins (containernetworking-plugins, a containerd suggestion) are here, not in /opt/cni/bin. */
const DEBIAN_CNI_BIN = '/usr/lib/cni';

/** A bridge network of the test's own (its name, subnet and IPAM state nowhere else on the machine). */
function podNetwork(bridge: string, subnet: string, ipamDir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: bridge,
    plugins: [{ type: 'bridge', bridge, isGateway: false, ipMasq: false, ipam: { type: 'host-local', subnet, dataDir: ipamDir } }, { type: 'loopback' }],
  });
}

/**
 * The config apply writes, started for real: Debian 12's containerd 1.6
 * (config version 2) and Debian unstable's 2.x (version 3, the one ag writes
 * for the containerd it carries for current Kubernetes), each with
 * root, state and sockets moved under a temp dir (the only edit), the CRI
 * loaded, and through the certs.d/registry.k8s.io/hosts.toml that `ag-registry trust`
 * writes, the kubelet's own
 * request (CRI PullImage) fetches registry.k8s.io/pause from an internal
 * registry with TLS, which then runs.
 */
describe.each([...REAL_CONTAINERDS])('the generated containerd config, on $name', (real) => {
  let dir: string;
  let root: string;
  let registry: RegistryFixture;
  let containerd: PrivateContainerd;
  let document: AgDocument;
  let layoutDir: string;
  let binDir: string | undefined;
  const bridge = `agnp${real.configVersion}`;
  const subnet = `10.213.${real.configVersion}.0/24`;

  beforeAll(async () => {
    const obtained = await real.obtain();
    binDir = obtained.binDir;
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
    const versionFlag = obtained.version === undefined ? [] : ['--containerd-version', obtained.version];
    const args = ['--root', root, '--cgroup-driver', 'cgroupfs', '--skip', 'binaries,kubelet', ...versionFlag];
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
    expect(config['version']).toBe(real.configVersion);
    registryTable(config)['config_path'] = join(root, 'etc/containerd/certs.d');
    // The CNI directories moved to the test's own, under the key apply chose (bin_dir or bin_dirs): a key this
    // containerd does not read leaves it looking in /opt/cni/bin, where there are no plugins, and the pod fails.
    const cni = criRuntimeTable(config)['cni'] as Table;
    const binKeys = ['bin_dir', 'bin_dirs'].filter((key) => cni[key] !== undefined);
    expect(binKeys).toHaveLength(1);
    cni[binKeys[0]!] = binKeys[0] === 'bin_dirs' ? [DEBIAN_CNI_BIN] : DEBIAN_CNI_BIN;
    cni['conf_dir'] = join(dir, 'net.d');
    await mkdir(join(dir, 'net.d'));
    await writeFile(join(dir, 'net.d', '10-ag-test.conflist'), podNetwork(bridge, subnet, join(dir, 'ipam')));
    // The build machines are containers without CAP_SYS_RESOURCE: the pause process's oom_score_adj of -998
    // would be refused (runc: "can't get final child's PID from pipe"); containerd's switch for that case.
    criRuntimeTable(config)['restrict_oom_score_adj'] = true;
    const test = { ...config, root: '{{dir}}/root', state: '{{dir}}/state', grpc: { address: '{{dir}}/containerd.sock' }, ttrpc: { address: '{{dir}}/containerd.sock.ttrpc' } };
    containerd = await startContainerd({ config: stringify(test), dir: join(dir, 'c'), ...(binDir === undefined ? {} : { binDir }) });
  });

  afterAll(async () => {
    await containerd?.stop();
    await execa('ip', ['link', 'del', bridge], { reject: false });
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads with the CRI plugin enabled and the settings apply wrote, as containerd itself reads them, none deprecated', async () => {
    const plugins = await containerd.ctr(['plugins', 'ls']);
    expect(plugins.stdout).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
    const io = createTestIo();
    expect(await criPluginProblems({ io }, containerd.address)).toEqual([]);
    // The effective config, as this containerd parses (and for version 2 on 2.x, migrates) the file: read back with ag's own reader.
    const program = binDir === undefined ? 'containerd' : join(binDir, 'containerd');
    const dumped = (await execa(program, ['--config', containerd.configPath, 'config', 'dump'])).stdout;
    expect(containerdSettings(dumped)).toMatchObject({
      version: real.configVersion,
      sandboxImage: 'registry.k8s.io/pause:3.9',
      systemdCgroup: false,
      configPath: join(root, 'etc/containerd/certs.d'),
    });
    // What the CRI runs with (the kubelet's Status call): the CNI directory under either name, runc.
    const criConfig = JSON.parse((await criStatusInfo(containerd.address))['config'] ?? '{}') as Table;
    const cni = criConfig['cni'] as Table;
    expect([cni['binDir'], ...((cni['binDirs'] as string[] | undefined) ?? [])].filter(Boolean)).toEqual([DEBIAN_CNI_BIN]);
    expect(cni['confDir']).toBe(join(dir, 'net.d'));
    const runc = ((criConfig['containerd'] as Table)['runtimes'] as Table)['runc'] as Table;
    expect(runc['runtimeType']).toBe('io.containerd.runc.v2');
    if (real.listsDeprecations) {
      // A deprecated key turns the CRI's ContainerdHasNoDeprecationWarnings condition false (cni.bin_dir did on 2.1).
      const deprecations = await containerd.ctr(['deprecations', 'list']);
      expect(deprecations.stdout.trim().split('\n').filter((line) => line !== '' && !line.startsWith('ID'))).toEqual([]);
    }
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

  it('starts a pod sandbox as the kubelet does: the sandbox image apply pinned, on the network of the CNI directories apply named', async () => {
    const id = await criRunPodSandbox(containerd.address, { name: 'ag-nodeprep-pod', namespace: 'default', uid: `ag-nodeprep-pod-${real.configVersion}` });
    try {
      const status = await criPodSandboxStatus(containerd.address, id);
      expect(status.ready).toBe(true);
      expect(status.ip).toMatch(new RegExp(`^10\\.213\\.${real.configVersion}\\.\\d+$`));
      // The sandbox's container is the image apply pinned (containerd's own default is another pause tag, not in the registry).
      const containers = await containerd.ctr(['containers', 'ls'], { namespace: 'k8s.io' });
      expect(containers.stdout).toMatch(new RegExp(`^${id}\\s+registry\\.k8s\\.io/pause:3\\.9\\s`, 'm'));
    } finally {
      await criRemovePodSandbox(containerd.address, id);
    }
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
