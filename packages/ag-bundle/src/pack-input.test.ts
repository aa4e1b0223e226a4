/**
 * What pack takes and what it leaves: it refuses a document whose planned
 * files or images the root lacks, signs unless told --unsigned, and never
 * changes the root it packs (a tree hash before and after, for packs that
 * succeed and packs that fail part-way).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedLayout, unmountAllUnder } from '@ag/fixtures';
import { listTree, run, tempDir, treeHash, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let root: string;
let key: string;
let pub: string;
let toolsDir: string;
const kubeadm = randomBytes(100_000);
const PAUSE = 'registry.k8s.io/pause:3.9';

const path = (...names: string[]): string => join(work.path, ...names);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A document as `ag-fetch plan` writes it: files (with and without a checksum) and images, nothing downloaded. */
function planned(files: { path: string; sha256?: string; size?: number }[], images: string[]): Record<string, unknown> {
  return {
    apiVersion: 'ag/v1alpha1',
    kind: 'Cluster',
    fetch: {
      components: {},
      imageList: { source: 'table', detail: 'test' },
      files: files.map((file) => ({ name: file.path.split('/').pop(), kind: 'binary', source: { url: `https://dl.k8s.io/${file.path}` }, ...file })),
      images: images.map((ref) => ({ ref, role: 'control-plane' })),
    },
  };
}

beforeAll(async () => {
  work = await tempDir('ag-bundle-input-');
  root = path('root');
  await writeTree(root, { 'files/kubeadm': kubeadm, 'files/kube-flannel.yml': 'kind: DaemonSet\n', 'tools/ag-hello.mjs': '// an older build, left by an earlier unpack\n' });
  const layout = await generatedLayout(join(root, 'images'));
  await layout.writeImageSpec({ ref: PAUSE, platforms: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [{ kind: 'random', size: 50_000, seed: 'pause' }] }] });
  toolsDir = path('build');
  await writeTree(toolsDir, { 'ag-hello.mjs': "process.stdout.write('hello from this build\\n');\n" });
  key = path('key.pem');
  pub = path('key.pub.pem');
  expect((await run(['keygen', '--out', key])).code).toBe(0);
});

afterAll(async () => {
  if (work !== undefined) await unmountAllUnder(work.path);
  await work?.cleanup();
});

describe('pack refuses what the document plans but the root lacks', () => {
  it('a plan never downloaded: exit 5, every absent file and image named, nothing written', async () => {
    const empty = path('empty-root');
    await writeTree(empty, { '.keep': '' });
    const document = planned([{ path: 'files/kubelet', sha256: 'a'.repeat(64) }, { path: 'files/kubectl' }, { path: 'files/crictl.tar.gz' }], [PAUSE, 'registry.k8s.io/etcd:3.5.7-0']);
    const before = await treeHash(empty);
    const out = path('never', 'bundle.tar');
    const result = await run(['pack', '--dir', empty, '--out', out, '--sign-key', key, '--tools', toolsDir], { stdin: JSON.stringify(document) });
    expect(result.code, result.stderr).toBe(5);
    expect(result.stdout).toBe('');
    for (const item of ['files/kubelet', 'files/kubectl', 'files/crictl.tar.gz', PAUSE, 'registry.k8s.io/etcd:3.5.7-0']) expect(result.stderr).toContain(item);
    expect(result.stderr).toContain('3 file(s) and 2 image(s)');
    expect(await listTree(path('never'))).toBeUndefined();
    expect(await treeHash(empty)).toBe(before);
  });

  it('names only what is absent: an image the layout lacks, by its canonical reference', async () => {
    // `pause:3.9` would be docker.io/library/pause:3.9; the planned name matches the stored one as written in full.
    const document = planned([{ path: 'files/kubeadm' }], [PAUSE, 'registry.k8s.io/coredns/coredns:v1.10.1']);
    const result = await run(['pack', '--dir', root, '--out', path('partial.tar'), '--sign-key', key], { stdin: JSON.stringify(document) });
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toContain('registry.k8s.io/coredns/coredns:v1.10.1');
    expect(result.stderr).toContain('1 image(s)');
    expect(result.stderr).not.toMatch(/\n {2}files\/kubeadm/);
    await expect(stat(path('partial.tar'))).rejects.toThrow();
  });

  it('a file whose size is not what the document says: exit 3, like a wrong sha256', async () => {
    const document = planned([{ path: 'files/kubeadm', sha256: sha256(kubeadm), size: kubeadm.length + 1 }], []);
    const result = await run(['pack', '--dir', root, '--out', path('size.tar'), '--sign-key', key, '--no-tools'], { stdin: JSON.stringify(document) });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(`files/kubeadm is ${kubeadm.length} bytes, but the document says ${kubeadm.length + 1}`);
  });
});

describe('pack signs unless told --unsigned', () => {
  it('without a key or --unsigned: exit 2, saying how to make a key, and nothing written', async () => {
    const result = await run(['pack', '--dir', root, '--out', path('nokey', 'bundle.tar'), '--no-tools']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ag-bundle keygen --out key.pem');
    expect(result.stderr).toContain('--sign-key');
    expect(result.stderr).toContain('--unsigned');
    expect(await listTree(path('nokey'))).toBeUndefined();
  });

  it('--unsigned packs an unsigned bundle, which says so', async () => {
    const out = path('unsigned.tar');
    const result = await run(['pack', '--dir', root, '--out', out, '--no-tools', '--unsigned']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('(unsigned)');
    expect(result.json).toMatchObject({ bundle: { signed: false } });
    expect((await execa('tar', ['-tf', out])).stdout.split('\n')).not.toContain('SHA256SUMS.sig');
  });
});

describe('pack never changes its input', () => {
  it('a signed pack with tools: the root is untouched; the tools come from the build, listed in SHA256SUMS', async () => {
    const before = await treeHash(root);
    const out = path('good.tar');
    const result = await run(['pack', '--dir', root, '--out', out, '--sign-key', key, '--tools', toolsDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(await treeHash(root)).toBe(before);

    const built = await readFile(join(toolsDir, 'ag-hello.mjs'));
    const { stdout: carried } = await execa('tar', ['-xOf', out, 'tools/ag-hello.mjs'], { encoding: 'buffer', stripFinalNewline: false });
    expect(Buffer.from(carried).equals(built)).toBe(true);
    const { stdout: sums } = await execa('tar', ['-xOf', out, 'SHA256SUMS']);
    expect(sums).toContain(`${sha256(built)}  tools/ag-hello.mjs`);
    const { stdout: readme } = await execa('tar', ['-xOf', out, 'tools/README.txt'], { encoding: 'buffer', stripFinalNewline: false });
    expect(sums).toContain(`${sha256(readme)}  tools/README.txt`);
    expect(result.json).toMatchObject({ bundle: { tools: [{ name: 'ag-hello', path: 'tools/ag-hello.mjs', sha256: sha256(built) }] } });
    expect(result.stderr).toContain("1 file(s) of the root's tools/ are carried as this build's instead");

    // The far side gets what the archive says, checkable with coreutils and openssl alone.
    const far = path('far-good');
    await execa('mkdir', ['-p', far]);
    await execa('tar', ['-xf', out, '-C', far]);
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: far });
    await execa('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', 'SHA256SUMS.sig', 'SHA256SUMS'], { cwd: far });
    expect((await execa('node', [join(far, 'tools/ag-hello.mjs')])).stdout).toBe('hello from this build');
  });

  it('a pack that fails before writing (a planned image absent): the root is untouched', async () => {
    const before = await treeHash(root);
    const document = planned([], ['registry.k8s.io/kube-proxy:v1.27.3']);
    const result = await run(['pack', '--dir', root, '--out', path('absent.tar'), '--sign-key', key, '--tools', toolsDir], { stdin: JSON.stringify(document) });
    expect(result.code).toBe(5);
    expect(await treeHash(root)).toBe(before);
  });

  it('a medium without the room (a 1 MiB tmpfs): exit 6 before writing, the medium and the root untouched', async () => {
    const usb = path('usb');
    await execa('mkdir', ['-p', usb]);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', usb]);
    const before = await treeHash(root);
    const result = await run(['pack', '--dir', root, '--out', join(usb, 'ag', 'bundle.tar'), '--sign-key', key, '--tools', toolsDir]);
    expect(result.code, result.stderr).toBe(6);
    expect(result.stderr).toMatch(/writing the bundle bundle\.tar: .* has \d+ bytes free, \d+ are needed/);
    expect(await listTree(usb)).toEqual([]);
    expect(await treeHash(root)).toBe(before);
  });

  it('a pack that fails part-way through the archive (a file not what the document says): the root is untouched, no archive', async () => {
    const before = await treeHash(root);
    const document = planned([{ path: 'files/kubeadm', sha256: 'b'.repeat(64), size: kubeadm.length }], []);
    const out = path('midway', 'bundle.tar');
    const result = await run(['pack', '--dir', root, '--out', out, '--sign-key', key, '--tools', toolsDir], { stdin: JSON.stringify(document) });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('files/kubeadm does not match');
    expect(await treeHash(root)).toBe(before);
    expect(await listTree(path('midway'))).toEqual([]);
  });
});
