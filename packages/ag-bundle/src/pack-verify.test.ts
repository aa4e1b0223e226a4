import { createHash, randomBytes } from 'node:crypto';
import { copyFile, readFile, readdir, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedLayout } from '@ag/fixtures';
import { entryOffsets, flipByte, flipEntryByte, listTree, run, tempDir, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let root: string;
let bundle: string;
let key: string;
let pub: string;
let packed: Record<string, unknown>;
let layerPath: string;
const kubeadm = randomBytes(300_000);

const tools = (): string => join(work.path, 'tools-build');
const far = (name: string): string => join(work.path, 'far', name);

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

beforeAll(async () => {
  work = await tempDir();
  root = join(work.path, 'root');
  await writeTree(root, {
    'files/kubeadm': kubeadm,
    'files/kube-flannel.yml': 'kind: DaemonSet\n',
    'packages/deb/socat_1.7.4.4-2_amd64.deb': randomBytes(20_000),
    'files/a name with spaces.txt': 'spaces are fine\n',
    [`files/${'deep/'.repeat(30)}long-name-${'x'.repeat(120)}.txt`]: 'a path longer than ustar holds\n',
  });
  await execa('chmod', ['0755', join(root, 'files/kubeadm')]);
  const layout = await generatedLayout(join(root, 'images'));
  const image = await layout.writeImageSpec({
    ref: 'registry.k8s.io/pause:3.9',
    platforms: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [{ kind: 'random', size: 200_000, seed: 'pause' }] }],
  });
  const manifest = JSON.parse(await readFile(layout.blobPath(image.digest), 'utf8')) as { layers: { digest: string }[] };
  layerPath = `images/blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`;
  await writeTree(tools(), { 'ag-hello.mjs': "process.stdout.write('hello from the far side\\n');\n" });
  key = join(work.path, 'key.pem');
  pub = join(work.path, 'key.pub.pem');
  expect((await run(['keygen', '--out', key])).code).toBe(0);
  bundle = join(work.path, 'bundle.tar');
  const result = await run(['pack', '--dir', root, '--out', bundle, '--sign-key', key, '--tools', tools()]);
  expect(result.code, result.stderr).toBe(0);
  packed = result.json!;
});

afterAll(async () => {
  await work?.cleanup();
});

describe('pack', () => {
  it('writes SHA256SUMS, its signature and bundle.json first, then every file, uncompressed', async () => {
    const { stdout } = await execa('tar', ['-tf', bundle]);
    const names = stdout.split('\n');
    expect(names.slice(0, 3)).toEqual(['SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json']);
    expect(names).toContain('files/kubeadm');
    expect(names).toContain(layerPath);
    expect(names).toContain('tools/ag-hello.mjs');
    // Uncompressed: the archive is barely larger than what it holds.
    const contents = (packed['bundle'] as { contents: { bytes: number } }).contents.bytes;
    expect((await stat(bundle)).size).toBeLessThan(contents * 1.05 + 64 * 1024);
  });

  it('emits the document with the bundle name, size, sha256, signer and tools', async () => {
    const section = packed['bundle'] as Record<string, unknown>;
    expect(section['file']).toBe('bundle.tar');
    expect(section['size']).toBe((await stat(bundle)).size);
    expect(section['sha256']).toBe(await sha256(bundle));
    expect(section['signed']).toBe(true);
    // Bytes as they are: execa strips a final 0x0a even from a buffer, and a P-256 key's DER ends in one about once in 256 keys.
    const { stdout: der } = await execa('openssl', ['pkey', '-pubin', '-in', pub, '-outform', 'DER'], { encoding: 'buffer', stripFinalNewline: false });
    expect(section['keyFingerprint']).toBe(createHash('sha256').update(der).digest('hex'));
    expect(section['tools']).toEqual([
      { name: 'ag-hello', path: 'tools/ag-hello.mjs', sha256: await sha256(join(tools(), 'ag-hello.mjs')), size: (await stat(join(tools(), 'ag-hello.mjs'))).size },
    ]);
    expect(packed['root']).toBe(root);
  });

  it('carries the document without its root, and writes nothing into the root', async () => {
    const { stdout } = await execa('tar', ['-xOf', bundle, 'bundle.json']);
    expect(JSON.parse(stdout)).not.toHaveProperty('root');
    expect(await listTree(root)).not.toContain('SHA256SUMS');
    expect(await listTree(root)).not.toContain('tools/ag-hello.mjs');
  });

  it('is checkable with coreutils and openssl alone on the far side', async () => {
    const dir = far('coreutils');
    await execa('mkdir', ['-p', dir]);
    await execa('tar', ['-xf', bundle, '-C', dir]);
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir });
    const { stdout } = await execa('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', 'SHA256SUMS.sig', 'SHA256SUMS'], { cwd: dir });
    expect(stdout).toContain('Verified OK');
  });

  it('prints what it would write with --dry-run, and writes nothing', async () => {
    const out = join(work.path, 'dry.tar');
    const result = await run(['pack', '--dir', root, '--out', out, '--dry-run', '--no-tools', '--unsigned']);
    expect(result.code, result.stderr).toBe(0);
    // The dry-run convention: the planned writes on stderr, the document passed on (here a new one: none was piped in).
    const planned = JSON.parse(result.stderr.split('\n').find((line) => line.startsWith('{"dryRun"'))!) as Record<string, unknown>;
    expect(planned).toMatchObject({ dryRun: true, absent: [], actions: expect.arrayContaining([expect.objectContaining({ action: 'write', path: out })]) });
    expect(result.json).toMatchObject({ apiVersion: 'ag/v1alpha1', kind: 'Cluster' });
    expect(result.json).not.toHaveProperty('bundle');
    await expect(stat(out)).rejects.toThrow();
  });

  it('creates the directory --out names when it does not exist yet', async () => {
    const out = join(work.path, 'media', 'usb', 'bundle.tar');
    const result = await run(['pack', '--dir', root, '--out', out, '--no-tools', '--unsigned']);
    expect(result.code, result.stderr).toBe(0);
    expect((await stat(out)).size).toBe((result.json as { bundle: { size: number } }).bundle.size);
  });

  it('refuses a root holding a link, naming it', async () => {
    const odd = join(work.path, 'odd');
    await writeTree(odd, { 'files/a': 'a' });
    await symlink('/etc/passwd', join(odd, 'files/passwd'));
    const result = await run(['pack', '--dir', odd, '--out', join(work.path, 'odd.tar'), '--no-tools', '--unsigned']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('files/passwd: a symbolic link (to /etc/passwd)');
  });

  it('refuses a document that names a file the root lacks', async () => {
    const document = {
      apiVersion: 'ag/v1alpha1',
      kind: 'Cluster',
      fetch: {
        components: {},
        imageList: { source: 'table', detail: 'test' },
        images: [],
        files: [{ name: 'kubelet', kind: 'binary', source: { url: 'https://dl.k8s.io/kubelet' }, path: 'files/kubelet', sha256: 'a'.repeat(64), size: 1 }],
      },
    };
    const result = await run(['pack', '--dir', root, '--out', join(work.path, 'x.tar'), '--no-tools', '--unsigned'], { stdin: JSON.stringify(document) });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('files/kubelet');
  });
});

describe('verify', () => {
  it('passes a good bundle and emits the carried document', async () => {
    const result = await run(['verify', bundle, '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('signature verified');
    expect(result.json).toMatchObject({ kind: 'Cluster', bundle: { file: 'bundle.tar', signed: true } });
  });

  it('says so when the signature is not checked', async () => {
    const result = await run(['verify', bundle]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('the signature was not checked: pass --key');
  });

  it('passes an unsigned bundle but says so, and fails it when --key requires a signature', async () => {
    const unsigned = join(work.path, 'unsigned.tar');
    expect((await run(['pack', '--dir', root, '--out', unsigned, '--no-tools', '--unsigned'])).code).toBe(0);
    const plain = await run(['verify', unsigned]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain('the bundle is not signed');
    const required = await run(['verify', unsigned, '--key', pub]);
    expect(required.code).toBe(3);
    expect(required.stderr).toContain('SHA256SUMS.sig');
  });

  it('checks an Ed25519 signature, which openssl verifies too', async () => {
    const edKey = join(work.path, 'ed.pem');
    expect((await run(['keygen', '--out', edKey, '--algorithm', 'ed25519'])).code).toBe(0);
    const edRoot = join(work.path, 'ed-root');
    await writeTree(edRoot, { 'files/x': 'x\n' });
    const edBundle = join(work.path, 'ed.tar');
    expect((await run(['pack', '--dir', edRoot, '--out', edBundle, '--sign-key', edKey, '--no-tools'])).code).toBe(0);
    const edFar = join(work.path, 'ed-far');
    await execa('mkdir', ['-p', edFar]);
    await execa('tar', ['-xf', edBundle, '-C', edFar]);
    await execa('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(work.path, 'ed.pub.pem'), '-rawin', '-in', 'SHA256SUMS', '-sigfile', 'SHA256SUMS.sig'], { cwd: edFar });
    expect((await run(['verify', edBundle, '--key', join(work.path, 'ed.pub.pem')])).code).toBe(0);
    const wrong = await run(['verify', edBundle, '--key', pub]);
    expect(wrong.code).toBe(3);
  });
});

/** A tampered copy of the good bundle: verify and unpack must both fail, name `item`, and write nothing. */
async function expectRefused(name: string, tamper: (copy: string) => Promise<void>, item: string, args: string[] = ['--key', pub]): Promise<string> {
  const copy = join(work.path, `${name}.tar`);
  await copyFile(bundle, copy);
  await tamper(copy);
  const verified = await run(['verify', copy, ...args]);
  expect(verified.code, verified.stderr).toBe(3);
  expect(verified.stdout).toBe('');
  expect(verified.stderr).toContain(item);
  const dir = far(name);
  const unpacked = await run(['unpack', copy, '--dir', dir, ...args]);
  expect(unpacked.code, unpacked.stderr).toBe(3);
  expect(unpacked.stderr).toContain(item);
  expect(await listTree(dir)).toBeUndefined();
  const leftovers = (await readdir(join(work.path, 'far'))).filter((entry) => entry.includes(name) && entry.includes('.ag-tmp-'));
  expect(leftovers).toEqual([]);
  return verified.stderr;
}

describe('tampering: verify and unpack refuse, name the item, and write nothing', () => {
  beforeAll(async () => {
    await execa('mkdir', ['-p', join(work.path, 'far')]);
  });

  it('one flipped byte in a blob', async () => {
    const stderr = await expectRefused('blob', (copy) => flipEntryByte(copy, layerPath), layerPath);
    expect(stderr).toContain('mismatch');
  });

  it('one flipped byte in a file', async () => {
    await expectRefused('file', (copy) => flipEntryByte(copy, 'files/kubeadm'), 'files/kubeadm');
  });

  it('one flipped byte in bundle.json', async () => {
    await expectRefused('document', (copy) => flipEntryByte(copy, 'bundle.json'), 'bundle.json');
  });

  it('one flipped byte in SHA256SUMS, with and without a key', async () => {
    const stderr = await expectRefused('sums', (copy) => flipEntryByte(copy, 'SHA256SUMS'), 'SHA256SUMS');
    expect(stderr).toContain('does not verify');
    await expectRefused('sums-nokey', (copy) => flipEntryByte(copy, 'SHA256SUMS'), 'SHA256SUMS', []);
  });

  it('an extra file', async () => {
    await writeFile(join(work.path, 'extra.txt'), 'not listed\n');
    await expectRefused('extra', (copy) => execa('tar', ['-rf', copy, 'extra.txt'], { cwd: work.path }).then(() => undefined), 'extra.txt is in the archive but not listed');
  });

  it('an entry with ../, writing nothing outside', async () => {
    await writeTree(work.path, { 'sub/.keep': '', 'outside.txt': 'escape\n' });
    await expectRefused(
      'dotdot',
      (copy) => execa('tar', ['-rPf', copy, '../outside.txt'], { cwd: join(work.path, 'sub') }).then(() => undefined),
      '"../outside.txt" is refused: it climbs out of the bundle root',
    );
    expect(await readdir(join(work.path, 'far'))).not.toContain('outside.txt');
  });

  it('an entry with an absolute path', async () => {
    const absolute = join(work.path, 'absolute.txt');
    await writeFile(absolute, 'absolute\n');
    await expectRefused('absolute', (copy) => execa('tar', ['-rPf', copy, absolute]).then(() => undefined), `"${absolute}" is refused: it is an absolute path`);
  });

  it('a symlink pointing out of the root', async () => {
    await symlink('/etc/passwd', join(work.path, 'passwd-link'));
    await expectRefused('symlink', (copy) => execa('tar', ['-rf', copy, 'passwd-link'], { cwd: work.path }).then(() => undefined), 'passwd-link is a symbolic link to /etc/passwd, which points out of the bundle root');
  });

  it('a signature from another key', async () => {
    const other = join(work.path, 'other.pem');
    expect((await run(['keygen', '--out', other])).code).toBe(0);
    const stderr = await expectRefused('otherkey', async () => undefined, 'SHA256SUMS', ['--key', join(work.path, 'other.pub.pem')]);
    expect(stderr).toContain('another key signed it');
  });

  it('a signature made by another key, swapped into the bundle (rebuilt with GNU tar)', async () => {
    const other = join(work.path, 'other.pem');
    await expectRefused(
      'resigned',
      async (copy) => {
        const dir = join(work.path, 'resign');
        await execa('mkdir', ['-p', dir]);
        await execa('tar', ['-xf', copy, '-C', dir]);
        await execa('openssl', ['dgst', '-sha256', '-sign', other, '-out', 'SHA256SUMS.sig', 'SHA256SUMS'], { cwd: dir });
        await execa('tar', ['-cf', copy, 'SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json', 'files', 'images', 'packages', 'sbom.cdx.json', 'tools'], { cwd: dir });
      },
      'another key signed it',
    );
  });

  it('a bundle rebuilt with GNU tar (directory entries, GNU long names) still verifies', async () => {
    const dir = join(work.path, 'rebuilt');
    await execa('mkdir', ['-p', dir]);
    await execa('tar', ['-xf', bundle, '-C', dir]);
    const copy = join(work.path, 'rebuilt.tar');
    await execa('tar', ['--format=gnu', '-cf', copy, 'SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json', 'files', 'images', 'packages', 'sbom.cdx.json', 'tools'], { cwd: dir });
    const result = await run(['verify', copy, '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
  });

  it('a truncated bundle', async () => {
    const stderr = await expectRefused('truncated', (copy) => stat(copy).then((info) => truncate(copy, info.size - 5000)), 'truncated');
    expect(stderr).toMatch(/bundle\.tar|truncated\.tar/);
  });

  it('a damaged header', async () => {
    await expectRefused('header', async (copy) => flipByte(copy, (await entryOffsets(copy)).get('files/kubeadm')!.offset - 512 + 10), 'damaged');
  });
});

describe('unpack', () => {
  it('unpacks a verified bundle, emits the document with paths valid here, and is checkable with sha256sum -c', async () => {
    const dir = far('good');
    const result = await run(['unpack', bundle, '--dir', dir, '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ root: dir, bundle: { file: 'bundle.tar', unpackedAt: expect.any(String) } });
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir });
    expect(await readFile(join(dir, 'files/kubeadm'))).toEqual(kubeadm);
    expect((await stat(join(dir, 'files/kubeadm'))).mode & 0o111).not.toBe(0);
    const { stdout } = await execa('node', [join(dir, 'tools/ag-hello.mjs')]);
    expect(stdout).toBe('hello from the far side');
    // The unpacked tree is the packed root, file for file, plus what pack made: the checksums, the document, the SBOM, the tools.
    const made = ['SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json', 'sbom.cdx.json', 'tools/README.txt', 'tools/ag-hello.mjs'];
    expect(await listTree(dir)).toEqual([...(await listTree(root))!, ...made].sort());
  });

  it('finds the work done when run again, and refuses to overwrite a different bundle without --replace', async () => {
    const dir = far('good');
    const again = await run(['unpack', bundle, '--dir', dir, '--key', pub]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already holds this bundle');
    const otherRoot = join(work.path, 'other-root');
    await writeTree(otherRoot, { 'files/other': 'other\n' });
    const other = join(work.path, 'other.tar');
    expect((await run(['pack', '--dir', otherRoot, '--out', other, '--no-tools', '--unsigned'])).code).toBe(0);
    const refused = await run(['unpack', other, '--dir', dir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--replace');
    expect(await readFile(join(dir, 'files/kubeadm'))).toEqual(kubeadm);
    const replaced = await run(['unpack', other, '--dir', dir, '--replace']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(await listTree(dir)).toEqual(['SHA256SUMS', 'bundle.json', 'files/other', 'sbom.cdx.json']);
  });

  it('verifies and writes nothing with --dry-run', async () => {
    const dir = far('dry');
    const result = await run(['unpack', bundle, '--dir', dir, '--dry-run', '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^\{"dryRun":true,"actions":\[\{"action":"unpack"/m);
    // The carried document comes out, as verify passes it on: nothing was unpacked.
    expect(result.json).toMatchObject({ bundle: { signed: true } });
    expect(result.json!['bundle']).not.toHaveProperty('unpackedAt');
    expect(await listTree(dir)).toBeUndefined();
  });

  it('refuses up front when the disk lacks the room', async () => {
    // A bundle that claims to be far larger than any disk here: the check uses the sizes, before writing.
    const { unpackBundle } = await import('./unpack.js');
    const huge = { kind: 'file' as const, label: 'huge.tar', path: bundle, size: Number.MAX_SAFE_INTEGER };
    const dir = far('huge');
    await expect(unpackBundle(huge, { dir })).rejects.toMatchObject({ kind: 'system', message: expect.stringContaining('bytes free') });
    expect(await listTree(dir)).toBeUndefined();
  });
});

describe('inspect', () => {
  it('summarises sizes, images and the largest blobs on stderr, the document on stdout', async () => {
    const result = await run(['inspect', bundle]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ kind: 'Cluster', bundle: { file: 'bundle.tar' } });
    expect(result.stderr).toContain('registry.k8s.io/pause:3.9  linux/amd64');
    expect(result.stderr).toMatch(/images\s+\d+ files/);
    expect(result.stderr).toContain(layerPath.split('/').pop()!.slice(0, 12));
  });
});
