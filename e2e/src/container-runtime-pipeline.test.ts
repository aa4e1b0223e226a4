/**
 * containerd from its releases, across the stages: `ag-fetch plan
 * --containerd upstream | ag-fetch download` against the stand-in upstream
 * (GitHub releases of containerd and runc, raw.githubusercontent.com for
 * the unit), then `ag-nodeprep apply --root` on a Debian 12 root whose dpkg
 * database says containerd 1.6.20. What download fetched is what apply
 * installs, byte for byte, and the config is written for the bundle's
 * containerd 2.x.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateDocument, type AgDocument } from '@ag/core';
import { populateUpstream, startFileServer, UPSTREAM_1_36, type FileServer, type UpstreamTree } from '@ag/fixtures';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const tool = (name: string): string[] => ['--import', 'tsx', join(REPO, 'packages', name, 'src/bin.ts')];
/** The 1.36 row of ag-fetch's table, read as a file: what plan must choose (a tool's modules are not imported here). */
const ROW = (JSON.parse(await readFile(join(REPO, 'packages/ag-fetch/data/container-runtime.json'), 'utf8')) as { minors: Record<string, { containerd: string; runc: string }> }).minors['1.36']!;

let work: string;
let tree: UpstreamTree;
let server: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-runtime-pipeline-'));
  tree = await populateUpstream(join(work, 'up'), {
    ...UPSTREAM_1_36,
    containerd: ROW.containerd,
    runc: ROW.runc,
  });
  server = await startFileServer({ root: tree.root });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

async function run(name: string, args: string[], input: string): Promise<string> {
  const result = await execa('node', [...tool(name), ...args], { cwd: REPO, input, reject: false, env: { XDG_CACHE_HOME: join(work, 'cache') } });
  expect(result.exitCode, `${name} ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

const served = async (url: string): Promise<Buffer> => readFile(join(tree.root, tree.files.get(url)!));
const sha = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** Debian 12 as installed, with Debian's containerd 1.6 in dpkg's database and its unit. */
async function debianRoot(root: string): Promise<void> {
  const files: Record<string, string> = {
    'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    'etc/fstab': 'UUID=4444-dddd / ext4 errors=remount-ro 0 1\n',
    'etc/resolv.conf': 'nameserver 10.0.0.53\n',
    'lib/systemd/systemd': '',
    'lib/systemd/system/containerd.service': '[Unit]\nDescription=containerd container runtime\n\n[Service]\nExecStart=/usr/bin/containerd\n\n[Install]\nWantedBy=multi-user.target\n',
    'var/lib/dpkg/status': 'Package: containerd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.6.20~ds1-1+deb12u3\n',
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

describe('plan --containerd upstream | download | ag-nodeprep apply', () => {
  it('installs on the node exactly what download fetched from the releases, and configures containerd for it', async () => {
    const bundle = join(work, 'bundle');
    const planned = await run('ag-fetch', ['plan', '--kubernetes-version', 'v1.36.4', '--os', 'debian-12', '--containerd', 'upstream', '--image-list', 'table', '--mirror', server.url, '--dir', bundle], '');
    const fetched = validateDocument(JSON.parse(await run('ag-fetch', ['download', '--no-os-packages'], planned)), 'download') as AgDocument;

    const root = join(work, 'root');
    await debianRoot(root);
    const applied = JSON.parse(await run('ag-nodeprep', ['apply', '--root', root, '--skip', 'packages'], JSON.stringify(fetched))) as AgDocument;

    const version = ROW.containerd.replace(/^v/, '');
    const archiveUrl = `https://github.com/containerd/containerd/releases/download/${ROW.containerd}/containerd-${version}-linux-amd64.tar.gz`;
    const archive = fetched.fetch!.files.find((f) => f.name === 'containerd')!;
    expect(archive.sha256).toBe(sha(await served(archiveUrl)));
    // The archive's members, as upstream's tarball holds them, unpacked from the served file itself.
    const members = join(work, 'members');
    await mkdir(members, { recursive: true });
    await execa('tar', ['-xzf', join(tree.root, tree.files.get(archiveUrl)!), '-C', members]);
    for (const name of ['containerd', 'containerd-shim-runc-v2', 'ctr']) {
      expect(sha(await readFile(join(root, 'usr/local/bin', name))), name).toBe(sha(await readFile(join(members, 'bin', name))));
    }
    const runc = await served(`https://github.com/opencontainers/runc/releases/download/${ROW.runc}/runc.amd64`);
    expect(sha(await readFile(join(root, 'usr/local/sbin/runc')))).toBe(sha(runc));
    const unit = await served(`https://raw.githubusercontent.com/containerd/containerd/${ROW.containerd}/containerd.service`);
    expect(await readFile(join(root, 'usr/local/lib/systemd/system/containerd.service'), 'utf8')).toBe(unit.toString('utf8'));

    // Written for the bundle's containerd 2.x, not the 1.6 dpkg reports.
    const config = parse(await readFile(join(root, 'etc/containerd/config.toml'), 'utf8'));
    expect(config['version']).toBe(3);
    expect(applied.nodeprep!.containerd).toMatchObject({ version, versionSource: 'the bundle (fetch.files)', configVersion: 3 });
  }, 180_000);
});
