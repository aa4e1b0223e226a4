import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import { API_VERSION, type AgDocument, type StoredImage } from '@ag/core';
import { createStandIns, generatedLayout, LINUX_AMD64, writeKubeadmLikeSet } from '@ag/fixtures';
import { main } from './cli.js';

const FIXTURE = new URL('./testdata/kube-flannel.yml', import.meta.url);
const UPSTREAM_IMAGES = ['docker.io/flannel/flannel-cni-plugin:v1.1.2', 'docker.io/flannel/flannel:v0.22.0'];

let root: string;
let stored: StoredImage[];

/** A bundle as ag-fetch download and ag-images pull leave it: the manifest under files/, the images in an OCI layout. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ag-flannel-bundle-'));
  await mkdir(join(root, 'files'), { recursive: true });
  await copyFile(FIXTURE, join(root, 'files/kube-flannel.yml'));
  const layout = await generatedLayout(join(root, 'images'));
  const images = await writeKubeadmLikeSet(layout, { uniqueBytes: 512, sharedBytes: 512, platforms: [LINUX_AMD64] });
  stored = images.map((image) => ({
    ref: image.ref,
    digest: image.descriptor.digest,
    mediaType: image.descriptor.mediaType,
    upstreamDigest: image.descriptor.digest,
    partial: false,
    manifests: [],
  }));
});

function bundleDocument(podSubnet = '10.32.0.0/12'): AgDocument {
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    root,
    cluster: {
      kubernetesVersion: 'v1.27.3',
      architectures: ['amd64', 'arm64'],
      os: 'debian-12',
      cni: { name: 'flannel', version: 'v0.22.0' },
      podSubnet,
      serviceSubnet: '10.96.0.0/12',
      dnsDomain: 'cluster.local',
    },
    fetch: {
      components: { flannel: 'v0.22.0' },
      imageList: { source: 'table', detail: 'test' },
      files: [
        {
          name: 'kube-flannel.yml',
          kind: 'manifest',
          version: 'v0.22.0',
          source: { url: 'https://github.com/flannel-io/flannel/releases/download/v0.22.0/kube-flannel.yml' },
          path: 'files/kube-flannel.yml',
        },
      ],
      images: [],
    },
    images: { layout: 'images', platforms: ['linux/amd64', 'linux/arm64'], images: stored },
  };
}

async function render(argv: string[], document: AgDocument = bundleDocument()): Promise<{ code: number; out?: AgDocument; err: string }> {
  const io = createTestIo({ stdin: JSON.stringify(document) });
  const code = await main(['render', ...argv], io);
  return { code, out: io.stdoutText() ? (JSON.parse(io.stdoutText()) as AgDocument) : undefined, err: io.stderrText() };
}

type Obj = Record<string, unknown>;
const objects = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj);

/** Every container of every workload, wherever its pod spec is. */
function containers(docs: Obj[]): Obj[] {
  return docs.flatMap((d) => {
    const spec = ((d['spec'] as Obj | undefined)?.['template'] as Obj | undefined)?.['spec'] as Obj | undefined;
    return [...((spec?.['initContainers'] as Obj[] | undefined) ?? []), ...((spec?.['containers'] as Obj[] | undefined) ?? [])];
  });
}

function netConf(docs: Obj[]): Obj {
  const cm = docs.find((d) => d['kind'] === 'ConfigMap')!;
  return JSON.parse((cm['data'] as Record<string, string>)['net-conf.json']!) as Obj;
}

describe('ag-flannel render', () => {
  it("sets the pod CIDR from the document, pins every image by a digest in the layout, and changes nothing else", async () => {
    const { code, out, err } = await render([]);
    expect(err).not.toContain('error');
    expect(code).toBe(0);
    const section = out!.flannel!;
    expect(section.manifest).toBe('rendered/kube-flannel.yml');
    expect(section.podSubnet).toBe('10.32.0.0/12');
    const upstreamText = await readFile(FIXTURE, 'utf8');
    const renderedText = await readFile(join(root, section.manifest), 'utf8');
    const upstream = objects(upstreamText);
    const rendered = objects(renderedText);

    // The pod CIDR is the document's, the single source kubeadm also reads.
    expect(netConf(rendered)['Network']).toBe(out!.cluster!.podSubnet);
    expect(netConf(rendered)['Backend']).toEqual({ Type: 'vxlan' });

    // Every image is name:tag@digest, the digest the document holds for it, and the layout has that blob.
    const images = containers(rendered).map((c) => c['image'] as string);
    expect(images).toHaveLength(3);
    for (const image of images) {
      const [name, digest] = image.split('@') as [string, string];
      expect(UPSTREAM_IMAGES).toContain(name);
      expect(digest).toBe(stored.find((s) => s.ref === name)!.digest);
      await expect(readFile(join(root, 'images/blobs/sha256', digest.slice(7)))).resolves.toBeInstanceOf(Buffer);
    }
    expect(section.images).toEqual(UPSTREAM_IMAGES.map((u) => ({ upstream: u, pinned: `${u}@${stored.find((s) => s.ref === u)!.digest}` })));

    // Nothing else differs: blank out exactly the fields ag sets, in both, and compare everything.
    const blank = (docs: Obj[]): Obj[] => {
      const copy = structuredClone(docs);
      for (const c of containers(copy)) c['image'] = '<image>';
      const cm = copy.find((d) => d['kind'] === 'ConfigMap')!;
      (cm['data'] as Obj)['net-conf.json'] = '<net-conf>';
      return copy;
    };
    expect(blank(rendered)).toEqual(blank(upstream));
    const { Network: _n, ...restRendered } = netConf(rendered);
    const { Network: _u, ...restUpstream } = netConf(upstream);
    expect(restRendered).toEqual(restUpstream);

    // And in text: comments, order and quoting kept; only the Network line and the three image lines change.
    const before = upstreamText.split('\n');
    const after = renderedText.split('\n');
    expect(after).toHaveLength(before.length);
    const changed = after.flatMap((line, i) => (line === before[i] ? [] : [line.trim()]));
    expect(changed).toEqual([
      '"Network": "10.32.0.0/12",',
      `image: ${section.images[0]!.pinned}`,
      `image: ${section.images[1]!.pinned}`,
      `image: ${section.images[1]!.pinned}`,
    ]);
    expect(section.sourceSha256).toMatch(/^[a-f0-9]{64}$/);
  });

  it('sets another backend and the interface by flag, keeping the rest of the container', async () => {
    const out = await render(['--backend', 'host-gw', '--iface', 'eth1', '--out', join(root, 'rendered/host-gw.yml')]);
    expect(out.code).toBe(0);
    const rendered = objects(await readFile(join(root, 'rendered/host-gw.yml'), 'utf8'));
    expect(netConf(rendered)['Backend']).toEqual({ Type: 'host-gw' });
    const flanneld = containers(rendered).find((c) => c['name'] === 'kube-flannel')!;
    expect(flanneld['args']).toEqual(['--ip-masq', '--kube-subnet-mgr', '--iface=eth1']);
    expect(out.out!.flannel).toMatchObject({ backend: 'host-gw', interfaces: ['eth1'], manifest: 'rendered/host-gw.yml' });
  });

  it('is idempotent: a second render finds the file up to date', async () => {
    const first = await render([]);
    const second = await render([]);
    expect(second.code).toBe(0);
    expect(second.err).toContain('is already up to date');
    expect(second.out!.flannel!.sha256).toBe(first.out!.flannel!.sha256);
  });

  it('names an image the document does not hold (exit 5) and writes nothing', async () => {
    const document = bundleDocument();
    document.images!.images = stored.filter((s) => !s.ref.includes('cni-plugin'));
    const { code, out, err } = await render(['--out', join(root, 'rendered/never.yml')], document);
    expect(code).toBe(5);
    expect(out).toBeUndefined();
    expect(err).toContain('docker.io/flannel/flannel-cni-plugin:v1.1.2');
    await expect(readFile(join(root, 'rendered/never.yml'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a digest the layout does not have (exit 5)', async () => {
    const document = bundleDocument();
    document.images!.images = stored.map((s) => (s.ref.includes('cni-plugin') ? { ...s, digest: `sha256:${'0'.repeat(64)}` } : s));
    const { code, err } = await render(['--dry-run'], document);
    expect(code).toBe(5);
    expect(err).toContain('is not in the image layout');
  });

  it('refuses a manifest it does not understand (exit 2) rather than guess', async () => {
    const odd = join(root, 'files/not-flannel.yml');
    await writeFile(odd, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: something\ndata:\n  a: b\n');
    const { code, err } = await render(['--manifest', odd, '--dry-run']);
    expect(code).toBe(2);
    expect(err).toContain('0 ConfigMaps with data."net-conf.json"');
  });

  it('sets IPv6Network for a dual-stack pod subnet', async () => {
    const out = await render(['--out', join(root, 'rendered/dual.yml')], bundleDocument('10.244.0.0/16,fd00:10:244::/56'));
    expect(out.code).toBe(0);
    const conf = netConf(objects(await readFile(join(root, 'rendered/dual.yml'), 'utf8')));
    expect(conf).toEqual({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' }, IPv6Network: 'fd00:10:244::/56', EnableIPv6: true });
  });
});

describe('ag-flannel apply', () => {
  it('applies the rendered manifest with the admin kubeconfig, waits for the rollout and for every node, and records them', async () => {
    const rendered = await render([]);
    const hostRoot = await mkdtemp(join(tmpdir(), 'ag-flannel-node-'));
    await mkdir(join(hostRoot, 'etc/kubernetes'), { recursive: true });
    await writeFile(join(hostRoot, 'etc/kubernetes/admin.conf'), 'apiVersion: v1\n');
    const standIns = await createStandIns();
    const node = (name: string, ready: string): string => `{"metadata":{"name":"${name}"},"status":{"conditions":[{"type":"Ready","status":"${ready}"}]}}`;
    await writeFile(join(standIns.dir, 'nodes-1.json'), `{"items":[${node('cp1', 'True')},${node('w1', 'False')}]}`);
    await writeFile(join(standIns.dir, 'nodes-2.json'), `{"items":[${node('cp1', 'True')},${node('w1', 'True')}]}`);
    await standIns.add(
      'kubectl',
      `case "$*" in
  *" apply -f "*) cp "$5" "$STANDIN_DIR/applied.yml"; echo "daemonset.apps/kube-flannel-ds created" ;;
  *"rollout status"*) echo 'daemon set "kube-flannel-ds" successfully rolled out' ;;
  *"get nodes -o json"*) if [ -f "$STANDIN_DIR/seen" ]; then cat "$STANDIN_DIR/nodes-2.json"; else touch "$STANDIN_DIR/seen"; cat "$STANDIN_DIR/nodes-1.json"; fi ;;
  *) exit 64 ;;
esac`,
    );
    // What ag-kubeadm init leaves: the admin kubeconfig, on the node.
    const withAdmin: AgDocument = {
      ...rendered.out!,
      kubeadm: {
        configFile: '/etc/kubernetes/ag/kubeadm-config.yaml',
        apiVersion: 'kubeadm.k8s.io/v1beta3',
        kubernetesVersion: 'v1.27.3',
        config: '# not read by ag-flannel\n',
        imageRepository: 'registry.k8s.io',
        imageSource: 'upstream',
        sandboxImage: 'registry.k8s.io/pause:3.9',
        images: [],
        node: { name: 'cp1', advertiseAddress: '192.168.56.10', bindPort: 6443, criSocket: 'unix:///var/run/containerd/containerd.sock' },
        singleNode: false,
        adminKubeconfig: '/etc/kubernetes/admin.conf',
      },
    };
    const io = createTestIo({ stdin: JSON.stringify(withAdmin), env: standIns.env({ AG_POLL_INTERVAL_MS: '10' }) });
    const code = await main(['apply', '--host-root', hostRoot], io);
    expect(io.stderrText()).not.toContain('error');
    expect(code).toBe(0);
    const admin = join(hostRoot, 'etc/kubernetes/admin.conf');
    const manifest = join(root, 'rendered/kube-flannel.yml');
    expect(await standIns.calls()).toEqual([
      `kubectl --kubeconfig ${admin} apply -f ${manifest}`,
      `kubectl --kubeconfig ${admin} -n kube-flannel rollout status daemonset/kube-flannel-ds --timeout=300s`,
      `kubectl --kubeconfig ${admin} get nodes -o json`,
      `kubectl --kubeconfig ${admin} get nodes -o json`,
    ]);
    expect(await readFile(join(standIns.dir, 'applied.yml'), 'utf8')).toBe(await readFile(manifest, 'utf8'));
    const out = JSON.parse(io.stdoutText()) as AgDocument;
    expect(out.flannel).toMatchObject({
      daemonSet: { namespace: 'kube-flannel', name: 'kube-flannel-ds' },
      nodes: [
        { name: 'cp1', ready: true },
        { name: 'w1', ready: true },
      ],
    });
    expect(io.stderrText()).toContain('successfully rolled out');
  });

  it('refuses a rendered manifest changed after rendering (exit 3)', async () => {
    const rendered = await render(['--out', join(root, 'rendered/tampered.yml')]);
    await writeFile(join(root, 'rendered/tampered.yml'), (await readFile(join(root, 'rendered/tampered.yml'), 'utf8')).replace('10.32.0.0/12', '10.99.0.0/16'));
    const io = createTestIo({ stdin: JSON.stringify(rendered.out), env: { PATH: '/nonexistent' } });
    expect(await main(['apply', '--kubeconfig', '/nonexistent/admin.conf'], io)).toBe(3);
    expect(io.stderrText()).toContain('run ag-flannel render again');
  });
});
