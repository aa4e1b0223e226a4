import { createHash, X509Certificate } from 'node:crypto';
import { lstat, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { AgDocument } from '@ag/core';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAR_ARCH, FAR_REGISTRY_ENDPOINT } from './far-side.js';
import { nodeFoundWith } from './no-node.js';
import { notRoot } from './prerequisites.js';
import { Transcript } from './reporter.js';
import { removeWork, runScenario, type ScenarioResult } from './scenario.js';
import { formatSummary } from './summary.js';

// Skipped only when not root; CI runs as root, and a missing program there fails the run with its name.
const why = notRoot();
if (why !== undefined) process.stderr.write(`simulated-gap e2e skipped: ${why}\n`);

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

describe.skipIf(why !== undefined)('the whole pipeline across a simulated air gap', () => {
  let result: ScenarioResult;
  let work: string;
  const transcript = new Transcript();
  const far = (...path: string[]): string => join(work, 'far', ...path);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ag-e2e-'));
    try {
      // The seed's production topology (npm run demo -- --ha): it runs every kubeadm command of the classic
      // one-node procedure and, besides, init with a control-plane endpoint and two control-plane joins.
      // OS packages on: Debian's archive through the connected side's proxy, installed into the cached debootstrap root.
      result = await runScenario({ reporter: transcript, work, ha: true, osPackages: true });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n\nthe run so far:\n${transcript.tail(120)}`);
    }
  }, 900_000); // the first run after a change to the sources also builds the executable (cached by content); the first ever, the Debian root

  afterAll(async () => {
    if (work !== undefined) await removeWork(work);
  });

  it('sends nothing out of the far side: no packet into the black hole, and the sensor would have seen one', () => {
    const { gap } = result;
    expect(gap.leak, transcript.tail()).toEqual({ packets: 0, bytes: 0 });
    expect(gap.arrived).toEqual({ packets: 0, bytes: 0 });
    // Every address outside, this machine's own included, routes into the hole: nothing else is there to reach.
    expect(Object.keys(gap.routes).length).toBeGreaterThanOrEqual(3);
    for (const [address, device] of Object.entries(gap.routes)) expect(device, address).toBe(gap.hole);
    // The upstream's ports, tried from the far side, meet the far side's own empty loopback.
    const probes = Object.values(gap.upstreamFromFar);
    expect(probes).toHaveLength(2);
    for (const probe of probes) expect(['refused', 'far side listens there itself'], `${JSON.stringify(gap.upstreamFromFar)}\nlistening on the far side:\n${gap.farListeners}`).toContain(probe);
    expect(probes).toContain('refused');
    // The control: one attempt outward after the run is counted.
    expect(gap.control.result).toBe('timeout');
    expect(gap.control.leak.packets).toBeGreaterThan(0);
  });

  it('runs the trip of trip/steps.ts, every step in its order: the list the Vagrant driver runs on VMs', () => {
    expect(result.world.name).toBe('netns');
    const titles = result.steps.map((step) => step.title);
    expect(result.timings.map((t) => t.name).filter((name) => titles.includes(name))).toEqual(titles);
    // Every command the scenario gives a step is what ran, as the transcript shows it.
    const commands = transcript.lines.filter((line) => line.startsWith('  $ ')).map((line) => line.slice(4));
    for (const step of result.steps) for (const command of step.commands) expect(commands, step.id).toContain(command);
  });

  it('carries one file: the far side starts from the bundle and the trust anchor put there beforehand', async () => {
    expect(result.carried).toEqual(['carry/bundle.tar', 'trust/ag-bundle.pub.pem']);
    expect(await sha256(far('carry', 'bundle.tar'))).toBe(await sha256(result.connected.bundleFile));
    const bundle = result.connected.document.bundle!;
    expect(bundle.signed).toBe(true);
    expect(bundle.size).toBe(result.connected.bundleBytes);
    // The single executable for the far side's architecture, with the Node.js inside it named, and the .mjs files beside it.
    expect(bundle.tools).toContainEqual(expect.objectContaining({ name: 'ag', path: `tools/${FAR_ARCH}/ag`, arch: FAR_ARCH, node: expect.stringMatching(/^v\d+\.\d+\.\d+$/) }));
    expect(bundle.tools?.map((t) => t.name)).toEqual(
      expect.arrayContaining(['ag-bundle', 'ag-fetch', 'ag-flannel', 'ag-images', 'ag-kubeadm', 'ag-nodeprep', 'ag-registry']),
    );
  });

  it('plans the v1.27.3 cluster with flannel and podinfo, and carries every file and image', () => {
    const document = result.connected.document;
    const files = document.fetch!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['files/linux/amd64/kubeadm', 'files/manifests/kube-flannel.yml', 'files/charts/podinfo-6.4.0.tgz']));
    // No Node.js travels as a file any more: the executable in tools/ carries its own.
    expect(files.filter((path) => /node-v\d/.test(path))).toEqual([]);
    expect(document.fetch!.imageList.source).toBe('kubeadm');
    const planned = document.fetch!.images.map((i) => i.ref).sort();
    expect(planned).toEqual([...result.upstream.images].sort());
    expect(document.images!.images.map((i) => i.ref).sort()).toEqual(planned);
  });

  it('runs the far side with no Node.js: the single executable taken out of the bundle and checked with openssl and sha256sum', async () => {
    // This machine has a node; the far side's commands could not find one.
    expect(nodeFoundWith([])).not.toBe('');
    expect(result.far.nodeFound).toBe('');
    const carried = result.connected.document.bundle!.tools!.find((t) => t.path === `tools/${FAR_ARCH}/ag`)!;
    expect(result.far.toolVersion).toContain(`Node.js ${carried.node} built in: single executable for linux/${FAR_ARCH}`);
    expect(await sha256(far('boot', 'tools', FAR_ARCH, 'ag'))).toBe(carried.sha256);
    expect(await sha256(far('bundle', 'tools', FAR_ARCH, 'ag'))).toBe(carried.sha256);
    expect(result.far.unpacked.root).toBe(far('bundle'));
    expect(result.far.unpacked.bundle?.unpackedAt).toBeDefined();
  });

  it("carries the OS packages' closure from Debian's archive and installs it with ag-nodeprep into a Debian 12 root on the far side, offline", async () => {
    const packages = result.connected.document.packages!;
    expect(packages).toMatchObject({ os: 'debian-12', format: 'deb', repository: 'packages', baseline: { kind: 'minimal' } });
    expect(packages.requested).toEqual(expect.arrayContaining(['containerd', 'conntrack', 'socat', 'iptables']));
    const containerd = packages.closure!.find((p) => p.name === 'containerd')!;
    expect(containerd.version).toMatch(/^1\.6\./);
    // Every .deb of the closure crossed in the bundle: unpacked on the far side, by its sum.
    for (const pkg of packages.closure!) expect(await sha256(far('bundle', pkg.path)), pkg.path).toBe(pkg.sha256);
    // Installed: dpkg in that root says so, at the carried version.
    expect(result.far.containerdPackage).toBe(`installed ${containerd.version}`);
    const node = JSON.parse(await readFile(far('doc', 'os-packages.json'), 'utf8')) as AgDocument;
    expect(node.nodeprep!.root).toBe(far('debian-root'));
    expect(node.nodeprep!.skipped).toEqual([]);
    expect(node.nodeprep!.actions.filter((a) => a.step === 'packages').length).toBeGreaterThan(0);
    // The proxy relayed to Debian's archive and nowhere else.
    expect(result.gap.outbound!.length).toBeGreaterThan(0);
    for (const relayed of result.gap.outbound!) expect(relayed.target).toMatch(/^(http:\/\/)?deb\.debian\.org[:/]/);
  });

  it('configures containerd through ag-nodeprep and ag-registry trust: certs.d mirrors for the upstream names, the sandbox image, cgroupfs', async () => {
    const config = result.far.containerdConfig;
    expect(config).toMatch(/config_path = "\/etc\/containerd\/certs\.d"/);
    expect(config).toMatch(/sandbox_image = "registry\.k8s\.io\/pause:3\.9"/);
    expect(config).toMatch(/SystemdCgroup = false/);
    expect(config).not.toMatch(/disabled_plugins.*cri/);
    const hosts = await readFile(far('root', 'etc', 'containerd', 'certs.d', 'registry.k8s.io', 'hosts.toml'), 'utf8');
    expect(hosts).toContain(`[host."https://${FAR_REGISTRY_ENDPOINT}/v2/registry.k8s.io"]`);
    expect(hosts).toMatch(/override_path = true/);
  });

  it('runs the distribution registry taken out of the bundle\'s registry image, and pushes every image to it', async () => {
    const registry = result.far.pushed.registry!;
    expect(registry).toMatchObject({ mode: 'distribution', runner: 'process', endpoint: FAR_REGISTRY_ENDPOINT });
    expect(registry.server?.image).toBe('docker.io/library/registry:2.8.2');
    const binary = registry.server!.binary!;
    expect(binary.startsWith(far('registry'))).toBe(true);
    expect((await lstat(binary)).isFile()).toBe(true);
    // The stand-in registry image carries Debian's docker-registry: the same bytes, extracted from the layout.
    expect(registry.server!.binarySha256).toBe(await sha256('/usr/bin/docker-registry'));
    expect(result.far.pushed.images!.push?.registry).toBe(FAR_REGISTRY_ENDPOINT);
    expect(result.far.repositories).toBe(result.upstream.images.length);
  });

  it('lets containerd pull by upstream names from the internal registry and run the podinfo stand-in', () => {
    expect(result.far.podinfoOutput.trim()).toBe('ghcr.io/stefanprodan/podinfo:6.4.0');
  });

  it('installs podinfo 6.4.0 from the carried chart with the helm double: the image the chart names, by its upstream name', () => {
    expect(result.far.helmOutput).toContain('CHART: podinfo-6.4.0');
    expect(result.far.helmOutput).toContain('IMAGE: ghcr.io/stefanprodan/podinfo:6.4.0');
    expect(transcript.lines).toContain('  $ helm upgrade --install podinfo bundle/files/charts/podinfo-6.4.0.tgz --wait --timeout 5m');
  });

  it('writes a kubeadm configuration and a flannel manifest that name only images the internal registry has', async () => {
    // The first trip's configuration as ag-kubeadm config recorded it; the file on the node is the next trip's by now.
    const yaml = result.far.kubeadm.kubeadm!.config;
    expect(await readFile(far('root', 'etc', 'kubernetes', 'ag', 'kubeadm-config.yaml'), 'utf8')).toMatch(/^kubernetesVersion: v1\.27\.4$/m);
    const cluster = parseAllDocuments(yaml)
      .map((d) => d.toJS() as Record<string, unknown>)
      .find((d) => d['kind'] === 'ClusterConfiguration')!;
    expect(cluster).toMatchObject({ kubernetesVersion: 'v1.27.3', controlPlaneEndpoint: 'ag-far-lb:6443', imageRepository: 'registry.k8s.io', dns: { imageRepository: 'registry.k8s.io/coredns' } });
    // Each image by its index digest and, for a platform subset, its manifests' digests.
    const pushed = new Map(result.far.pushed.images!.images.map((i) => [i.ref, [i.digest, ...i.manifests.map((m) => m.digest)]]));
    const kubeadmImages = result.far.kubeadm.kubeadm!.images.map((i) => i.ref);
    expect(kubeadmImages).toHaveLength(7);
    for (const ref of kubeadmImages) expect(pushed.has(ref), ref).toBe(true);
    expect(result.far.kubeadm.kubeadm!.sandboxImage).toBe('registry.k8s.io/pause:3.9');
    // flannel's images are pinned to digests the registry holds.
    const pinned = result.far.flannel.flannel!.images!;
    expect(pinned).toHaveLength(2);
    for (const image of pinned) {
      const [name, digest] = image.pinned.split('@') as [string, string];
      expect(name).toBe(image.upstream);
      expect(pushed.get(image.upstream), image.upstream).toContain(digest);
    }
    // And containerd pulled each of them by that name (a failed pull fails the run).
    expect(result.far.clusterImages.sort()).toEqual([...kubeadmImages, ...pinned.map((i) => i.pinned)].sort());
  });

  it('runs ag-kubeadm preflight, init (HA: a control-plane endpoint, --upload-certs) and joins against the kubeadm double: two control planes with the certificate key, the worker with the CA pin', async () => {
    const { preflight, initialised, joined } = result.far.kubeadmRun;
    const checks = preflight.kubeadm!.preflight!.checks!;
    expect(checks.find((c) => c.name === 'kubeadm-config')).toMatchObject({ result: 'ok' });
    expect(checks.find((c) => c.name === 'version-skew')).toMatchObject({ result: 'ok' });
    expect(preflight.kubeadm!.preflight!.images.map((i) => i.foundIn)).toEqual(Array(7).fill('containerd'));
    const caPem = await readFile(far('root', 'etc', 'kubernetes', 'pki', 'ca.crt'), 'utf8');
    expect(initialised.kubeadm!.join!.caCertHashes).toEqual([`sha256:${createHash('sha256').update(new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' })).digest('hex')}`]);
    // HA: every node joins through the load balancer's endpoint; the other control planes with the certificate key init uploaded.
    const endpoint = result.world.topology.controlPlaneEndpoint!;
    expect(endpoint).toBe('ag-far-lb:6443');
    expect(initialised.kubeadm!.join).toMatchObject({ apiServerEndpoint: endpoint, certificateKeyFile: '/etc/kubernetes/ag/certificate-key' });
    expect(joined.kubeadm!.joined).toMatchObject({ node: 'ag-far-w1', controlPlane: false, apiServerEndpoint: endpoint });
    expect(result.far.kubeadmRun.controlPlanesJoined.map((d) => d.kubeadm!.joined)).toEqual([
      expect.objectContaining({ node: 'ag-far-cp2', controlPlane: true, apiServerEndpoint: endpoint }),
      expect.objectContaining({ node: 'ag-far-cp3', controlPlane: true, apiServerEndpoint: endpoint }),
    ]);
    // The second control plane got the cluster's certificates from the kubeadm-certs Secret (the certificate key decrypted them).
    expect(await readFile(far('cp2-root', 'etc', 'kubernetes', 'pki', 'ca.crt'), 'utf8')).toBe(caPem);
    // The worker's kubelet got the cluster's KubeletConfiguration: ag-nodeprep's cgroupfs, as containerd runs.
    expect(await readFile(far('worker-root', 'var', 'lib', 'kubelet', 'config.yaml'), 'utf8')).toMatch(/cgroupDriver: cgroupfs/);
    expect(await readFile(far('worker-root', 'etc', 'kubernetes', 'pki', 'ca.crt'), 'utf8')).toBe(caPem);
  });

  it('carries only the difference on the next trip: a delta for v1.27.4 against the far side\'s inventory', async () => {
    const { next } = result;
    const first = result.connected.bundleBytes;
    expect(next.connected.bundleBytes).toBeLessThan(first / 5);
    expect(next.connected.document.bundle?.delta?.reused.length).toBeGreaterThan(0);
    // Not one layer or config the far side already had crossed again; only manifests and indexes (small, and
    // what unpack checks the images against) are always carried.
    const had = new Set((await readFile(far('boot', 'SHA256SUMS'), 'utf8')).split('\n').map((line) => line.split(/\s+/)[0]));
    const manifests = new Set(
      [result.far.unpacked, next.unpacked].flatMap((d) => d.images!.images.flatMap((i) => [i.digest, ...i.manifests.map((m) => m.digest)])).map((d) => d.slice('sha256:'.length)),
    );
    const { stdout } = await execa('tar', ['-tf', next.connected.bundleFile]);
    const blobs = stdout.split('\n').filter((member) => member.startsWith('images/blobs/sha256/')).map((member) => member.slice('images/blobs/sha256/'.length));
    const fresh = blobs.filter((blob) => !had.has(blob));
    expect(fresh.length).toBeGreaterThanOrEqual(4 * 2); // each new control-plane image: at least its own layer and config
    for (const blob of blobs.filter((b) => had.has(b))) expect(manifests.has(blob), `${blob} crossed again`).toBe(true);
    // The far side now holds the whole v1.27.4 bundle (sha256sum -c passed in the run), and its registry the new images.
    expect(next.unpacked.cluster?.kubernetesVersion).toBe('v1.27.4');
    expect(next.unpacked.root).toBe(far('bundle'));
    expect(next.pushed.images!.images.map((i) => i.ref)).toEqual(expect.arrayContaining(result.upstream.next!.images));
    expect(next.pulled).toEqual(result.upstream.next!.images);
    expect(next.pulled).toHaveLength(4);
  });

  it("plans the upgrade to v1.27.4 in upstream's order against the kubeadm double, changing nothing", async () => {
    const plan = JSON.parse(await readFile(far('doc', 'upgrade-plan.json'), 'utf8')) as AgDocument;
    expect(plan.kubeadm!.upgrade).toMatchObject({ from: 'v1.27.3', to: 'v1.27.4', kind: 'patch' });
    expect(plan.kubeadm!.upgrade!.steps.map((s) => `${s.step}:${s.status}`)).toEqual(
      ['install-kubeadm', 'kubeadm-upgrade-apply', 'drain', 'install-kubelet', 'install-kubectl', 'restart-kubelet', 'uncordon'].map((s) => `${s}:planned`),
    );
    // Nothing installed by the plan: the new kubeadm is installed first by upgrade apply (below).
    expect(plan.kubeadm!.kubernetesVersion).toBe('v1.27.4');
  });

  it('upgrades the first control plane with upgrade apply, then every other node with upgrade node, one at a time, each in upstream\'s order', async () => {
    const nextFiles = (JSON.parse(await readFile(far('doc', 'next.json'), 'utf8')) as AgDocument).fetch!.files;
    const firstFiles = result.connected.document.fetch!.files;
    const sumOf = (files: typeof firstFiles, name: string): string => files.find((f) => f.path === `files/linux/amd64/${name}`)!.sha256!;
    expect(sumOf(nextFiles, 'kubelet')).not.toBe(sumOf(firstFiles, 'kubelet'));
    const order = ['install-kubeadm', 'drain', 'install-kubelet', 'install-kubectl', 'restart-kubelet', 'uncordon'];
    const nodes = [['ag-far', 'root', 'upgraded.json', 'kubeadm-upgrade-apply'], ['ag-far-cp2', 'cp2-root', 'ag-far-cp2-upgraded.json', 'kubeadm-upgrade-node'], ['ag-far-cp3', 'cp3-root', 'ag-far-cp3-upgraded.json', 'kubeadm-upgrade-node'], ['ag-far-w1', 'worker-root', 'ag-far-w1-upgraded.json', 'kubeadm-upgrade-node']] as const;
    let previous = '';
    for (const [node, root, file, kubeadmStep] of nodes) {
      const upgrade = (JSON.parse(await readFile(far('doc', file), 'utf8')) as AgDocument).kubeadm!.upgrade!;
      expect(upgrade, node).toMatchObject({ to: 'v1.27.4' });
      expect(upgrade.steps.map((s) => `${s.node} ${s.step}:${s.status}`), node).toEqual([order[0], kubeadmStep, ...order.slice(1)].map((s) => `${node} ${s}:done`));
      // One at a time: this node starts after the one before it finished.
      expect(upgrade.steps[0]!.at! >= previous, node).toBe(true);
      previous = upgrade.steps.at(-1)!.at!;
      for (const name of ['kubeadm', 'kubelet', 'kubectl']) expect(await sha256(far(root, 'usr', 'local', 'bin', name)), `${node} ${name}`).toBe(sumOf(nextFiles, name));
    }
    expect((await readFile(far('bin', 'systemctl.log'), 'utf8')).trim().split('\n')).toEqual(Array(nodes.length).fill(['systemctl daemon-reload', 'systemctl restart kubelet']).flat());
  });

  it('summarises the run for npm run demo', () => {
    const summary = formatSummary(result).join('\n');
    expect(summary).toContain('no packet left the far side: TX 0');
    expect(summary).toMatch(/OS packages \d+ from Debian's archive \(.+\), installed offline into the far side's Debian root: containerd installed 1\.6\./);
    expect(summary).toMatch(/ag-images push\s+\d+\.\d s/);
    for (const timing of result.timings) expect(timing.ms).toBeGreaterThanOrEqual(0);
  });
});
