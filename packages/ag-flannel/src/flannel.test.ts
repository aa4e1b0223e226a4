import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { AgDocument, StoredImage } from '@ag/core';
import { cachedKubectl, generatedLayout, LINUX_AMD64, writeKubeadmLikeSet } from '@ag/fixtures';
import { containers, createTestBundle, FIXTURE_MANIFEST as FIXTURE, objects, UPSTREAM_IMAGES, type TestBundle } from './testing/bundle.js';

let bundle: TestBundle;
let root: string;
let stored: StoredImage[];

/** The images pulled into a real OCI layout, as ag-images pull leaves them. */
beforeAll(async () => {
  bundle = await createTestBundle(async (dir) => {
    const images = await writeKubeadmLikeSet(await generatedLayout(dir), { uniqueBytes: 512, sharedBytes: 512, platforms: [LINUX_AMD64] });
    return images.map((image) => ({
      ref: image.ref,
      digest: image.descriptor.digest,
      mediaType: image.descriptor.mediaType,
      upstreamDigest: image.descriptor.digest,
      partial: false,
      manifests: [],
    }));
  });
  root = bundle.root;
  stored = bundle.stored;
});

const bundleDocument = (podSubnet?: string): AgDocument => bundle.document(podSubnet);
const render = (argv: string[], document?: AgDocument): ReturnType<TestBundle['render']> => bundle.render(argv, document);

type Obj = Record<string, unknown>;

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

  it("pins every image under a registry's prefix with --registry, and --registry internal is the document's registry", async () => {
    const given = await render(['--registry', 'harbor.example/k8s', '--out', join(root, 'rendered/harbor.yml')]);
    expect(given.code, given.err).toBe(0);
    expect(given.out!.flannel!.registry).toBe('harbor.example/k8s');
    const digestOf = (ref: string): string => stored.find((s) => s.ref === ref)!.digest;
    expect(given.out!.flannel!.images).toEqual(
      UPSTREAM_IMAGES.map((ref) => ({ upstream: ref, pinned: `harbor.example/k8s/${ref}@${digestOf(ref)}` })),
    );
    const written = containers(objects(await readFile(join(root, 'rendered/harbor.yml'), 'utf8'))).map((c) => c['image'] as string);
    expect(written.every((image) => image.startsWith('harbor.example/k8s/docker.io/flannel/'))).toBe(true);

    const document = { ...bundleDocument(), registry: { endpoint: 'registry.site.example:5443', prefix: 'platform/k8s', external: true } };
    const internal = await render(['--registry', 'internal', '--dry-run'], document);
    expect(internal.code, internal.err).toBe(0);
    expect(internal.out!.flannel!.images.map((i) => i.pinned.split('@')[0])).toEqual(UPSTREAM_IMAGES.map((ref) => `registry.site.example:5443/platform/k8s/${ref}`));
    const none = await render(['--registry', 'internal', '--dry-run']);
    expect(none.code).toBe(2);
    expect(none.err).toContain("--registry internal needs the document's registry section");
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

describe('ag-flannel render: the interface between nodes and the networks', () => {
  it('sets --iface, --iface-regex and --iface-can-reach in the order flanneld tries them, quoting where YAML needs it', async () => {
    const out = join(root, 'rendered/ifaces.yml');
    const { code, out: document, err } = await render([
      '--iface', 'eth1', '--iface', 'ens8', '--iface-regex', '^192\\.168\\.56\\.', '--iface-regex', 'enp0s[0-9]+: #x', '--iface-can-reach', '192.168.56.1', '--out', out,
    ]);
    expect(err).not.toContain('warn');
    expect(code).toBe(0);
    const text = await readFile(out, 'utf8');
    const flanneld = containers(objects(text)).find((c) => c['name'] === 'kube-flannel')!;
    expect(flanneld['args']).toEqual([
      '--ip-masq', '--kube-subnet-mgr', '--iface=eth1', '--iface=ens8', '--iface-regex=^192\\.168\\.56\\.', '--iface-regex=enp0s[0-9]+: #x', '--iface-can-reach=192.168.56.1',
    ]);
    expect(text).toContain('- "--iface-regex=enp0s[0-9]+: #x"');
    expect(document!.flannel).toMatchObject({ interfaces: ['eth1', 'ens8'], interfaceRegexes: ['^192\\.168\\.56\\.', 'enp0s[0-9]+: #x'], interfaceCanReach: '192.168.56.1' });

    // A second render replaces them rather than adding more.
    await render(['--iface-can-reach', '192.168.56.254', '--manifest', out, '--out', out]);
    expect(containers(objects(await readFile(out, 'utf8'))).find((c) => c['name'] === 'kube-flannel')!['args']).toEqual([
      '--ip-masq', '--kube-subnet-mgr', '--iface-can-reach=192.168.56.254',
    ]);
  });

  it('is read by a real kubectl (1.36, kustomize, offline) as the same objects, the quoted flags and the pinned images included', async () => {
    const out = join(root, 'rendered/for-kubectl.yml');
    const { code, err } = await render(['--iface-regex', '^192\\.168\\.56\\.', '--iface-regex', 'enp0s[0-9]+: #x', '--out', out], bundleDocument('10.244.0.0/16'));
    expect(code, err).toBe(0);
    const text = await readFile(out, 'utf8');
    // kustomize parses each document with kubectl's own YAML reader (sigs.k8s.io/kustomize/kyaml) and needs no cluster.
    const dir = join(root, 'kustomize');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'kube-flannel.yml'), text);
    await writeFile(join(dir, 'kustomization.yaml'), 'resources:\n  - kube-flannel.yml\n');
    const kubectl = await cachedKubectl();
    const read = await execa(kubectl, ['kustomize', dir], { reject: false });
    expect(read.exitCode, read.stderr).toBe(0);
    const key = (o: Obj): string => `${String(o['kind'])}/${String((o['metadata'] as Obj)['name'])}`;
    const byKey = (list: Obj[]): Obj[] => [...list].sort((a, b) => key(a).localeCompare(key(b)));
    const theirs = parseAllDocuments(read.stdout).map((d) => d.toJS() as Obj);
    expect(byKey(theirs)).toEqual(byKey(objects(text)));
    expect(containers(theirs).find((c) => c['name'] === 'kube-flannel')!['args']).toContain('--iface-regex=enp0s[0-9]+: #x');
    expect(netConf(theirs)['Network']).toBe('10.244.0.0/16');
    const images = containers(theirs).map((c) => String(c['image']));
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) expect(image).toMatch(/@sha256:[a-f0-9]{64}$/);
  });

  it('warns that an --iface address exists on one node only, and renders it as asked', async () => {
    const { code, err } = await render(['--iface', '192.168.56.10', '--out', join(root, 'rendered/one-node.yml')]);
    expect(code).toBe(0);
    expect(err).toContain('--iface 192.168.56.10 is an address: it exists on one node only');
  });

  it('refuses what flanneld would exit on everywhere, and a node address inside the pod network (exit 2), writing nothing', async () => {
    const out = join(root, 'rendered/refused.yml');
    for (const [argv, message] of [
      [['--iface-regex', '(?=eth)'], '--iface-regex "(?=eth)" uses look-around'],
      [['--iface-regex', 'eth[0-9'], '--iface-regex "eth[0-9" does not compile'],
      [['--iface-can-reach', 'gateway.site'], '--iface-can-reach "gateway.site" is not an IP address'],
      [['--iface', 'eth1/0'], '--iface "eth1/0" is neither an address nor an interface name'],
      [['--iface', 'a-very-long-interface'], 'is longer than an interface name can be (15 bytes)'],
      [['--iface-can-reach', '10.32.0.1'], 'cluster.podSubnet "10.32.0.0/12" overlaps --iface-can-reach "10.32.0.1": 10.32.0.1/32 lies inside 10.32.0.0/12'],
    ] as const) {
      const { code, err } = await render([...argv, '--out', out]);
      expect(code, argv.join(' ')).toBe(2);
      expect(err).toContain(message);
    }
    await expect(readFile(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("refuses a pod subnet that is not a network, from the document (its JSON path) and as a library call", async () => {
    const { code, err } = await render([], bundleDocument('banana'));
    expect(code).toBe(2);
    expect(err).toContain('$.cluster.podSubnet "banana": not a CIDR');
    const { renderFlannel } = await import('./render.js');
    await expect(renderFlannel(bundleDocument('10.244.0.0/33'), { dryRun: true })).rejects.toThrow('cluster.podSubnet "10.244.0.0/33": the prefix length /33');
  });
});
