import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, createLogger, sha256File, type AgDocument, type PackagesSection } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { buildRpmRepository, createNetworkNamespace, type NetworkNamespace, type RpmRepository } from '@ag/fixtures';
import { main } from '../cli.js';
import { STEP_NAMES } from '../steps/index.js';
import { installOsPackages } from './install-os-packages.js';
import { takeInventory } from './inventory.js';

// Real parts: Debian's dnf and rpm installing into an --installroot inside a
// network namespace with no route out, from a signed repository built with
// rpmbuild, rpmsign and createrepo_c, laid out as ag-fetch lays out a bundle.

const io = createTestIo({ env: { PATH: process.env['PATH'], HOME: process.env['HOME'] } });
const log = createLogger(io, { tool: 'test', level: 'info' });
let repo: RpmRepository;
let gap: NetworkNamespace;
let root: string;
let section: PackagesSection;

beforeAll(async () => {
  repo = await buildRpmRepository([
    { name: 'ag-base', version: '1.0' },
    { name: 'ag-lib', version: '2.0', requires: ['ag-base'] },
    { name: 'ag-node-tool', version: '3.0', requires: ['ag-lib'] },
  ]);
  // The bundle carries the signing key beside the repository (packages/keys/).
  await mkdir(join(repo.dir, 'keys'));
  await copyFile(repo.keyFile, join(repo.dir, 'keys', 'key-1.asc'));
  const closure = await Promise.all(
    repo.rpms.map(async (file) => {
      const name = file.split('/').pop()!;
      const [, pkg, version] = /^(.+)-(\d[^-]*-\d+)\.noarch\.rpm$/.exec(name)!;
      return { name: pkg!, version: version!, arch: 'noarch', path: `packages/noarch/${name}`, ...(await sha256File(file)) };
    }),
  );
  section = { os: 'fedora-37', format: 'rpm', manager: 'dnf', architectures: ['x86_64'], requested: ['ag-node-tool'], repository: 'packages', closure, keys: ['packages/keys/key-1.asc'] };
  root = await mkdtemp(join(tmpdir(), 'ag-fedora-root-'));
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/os-release'), 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=37\nPRETTY_NAME="Fedora Linux 37 (Server Edition)"\n');
  gap = await createNetworkNamespace();
}, 120_000);

afterAll(async () => {
  await gap?.destroy();
  await repo?.cleanup();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('OS packages with dnf on the far side', () => {
  it('installs the closure from the bundle alone, checking signatures with the carried key', async () => {
    const report = await installOsPackages(section, { root, repoDir: repo.dir, io, log, wrap: gap.prefix });
    expect(report.installed.map((p) => `${p.name}-${p.version}`).sort()).toEqual(['ag-base-1.0-1', 'ag-lib-2.0-1', 'ag-node-tool-3.0-1']);
    const [command] = report.commands;
    expect(command).toEqual(expect.arrayContaining(['--noplugins', '--disablerepo=*', `--repofrompath=ag-bundle,file://${repo.dir}`, '--enablerepo=ag-bundle', '--setopt=ag-bundle.gpgcheck=1', `--installroot=${root}`, '--releasever=37']));
    const queried = await execa('rpm', [`--root=${root}`, '-q', 'ag-node-tool', 'ag-lib', 'ag-base']);
    expect(queried.stdout.split('\n')).toEqual(['ag-node-tool-3.0-1.noarch', 'ag-lib-2.0-1.noarch', 'ag-base-1.0-1.noarch']);
  });

  it('changes nothing on a second run', async () => {
    expect(await installOsPackages(section, { root, repoDir: repo.dir, io, log, wrap: gap.prefix })).toEqual({ pending: [], installed: [], upgraded: [], commands: [] });
  });

  it('inventories the rpm database for the connected side', async () => {
    const inventory = await takeInventory({ root, io });
    expect(inventory).toMatchObject({ kind: 'PackageInventory', format: 'rpm', arch: 'x86_64', os: { id: 'fedora', versionId: '37' }, root });
    expect(inventory.packages).toEqual([
      { name: 'ag-base', version: '1.0-1', arch: 'noarch' },
      { name: 'ag-lib', version: '2.0-1', arch: 'noarch' },
      { name: 'ag-node-tool', version: '3.0-1', arch: 'noarch' },
    ]);
  });

  it('refuses a package whose signature does not match the carried key, and installs nothing', async () => {
    const other = await buildRpmRepository([{ name: 'ag-other', version: '1.0' }]);
    const fresh = await mkdtemp(join(tmpdir(), 'ag-fedora-root-'));
    try {
      await mkdir(join(other.dir, 'keys'));
      await copyFile(repo.keyFile, join(other.dir, 'keys', 'key-1.asc'));
      const wrongKey: PackagesSection = { ...section, requested: ['ag-other'], closure: [] };
      await expect(installOsPackages(wrongKey, { root: fresh, repoDir: other.dir, io, log, wrap: gap.prefix })).rejects.toMatchObject({ exitCode: 7 });
      expect((await execa('rpm', [`--root=${fresh}`, '-q', 'ag-other'], { reject: false })).exitCode).not.toBe(0);
    } finally {
      await other.cleanup();
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('is the first step of ag-nodeprep apply, and inventory is a command of its own', async () => {
    const tree = await mkdtemp(join(tmpdir(), 'ag-fedora-root-'));
    const bundle = await mkdtemp(join(tmpdir(), 'ag-bundle-'));
    try {
      await mkdir(join(tree, 'etc'));
      await writeFile(join(tree, 'etc/os-release'), 'ID=fedora\nVERSION_ID=37\nPRETTY_NAME="Fedora Linux 37"\n');
      await mkdir(join(tree, 'usr/lib/systemd'), { recursive: true });
      await writeFile(join(tree, 'usr/lib/systemd/systemd'), '');
      await symlink(repo.dir, join(bundle, 'packages'));
      const document: AgDocument = { apiVersion: API_VERSION, kind: 'Cluster', root: bundle, packages: section };
      const others = STEP_NAMES.filter((name) => name !== 'packages').join(',');
      const run = async (argv: string[]) => {
        const cliIo = createTestIo({ stdin: JSON.stringify(document), env: { PATH: process.env['PATH'], HOME: process.env['HOME'] } });
        const code = await main(argv, cliIo);
        return { code, out: cliIo.stdoutText(), err: cliIo.stderrText() };
      };
      const planned = await run(['plan', '--root', tree, '--skip', others]);
      expect(planned.code, planned.err).toBe(0);
      const [action] = (JSON.parse(planned.out) as AgDocument).nodeprep!.actions;
      expect(action).toMatchObject({ step: 'packages', action: 'install-packages', status: 'planned', detail: expect.stringContaining('ag-node-tool is not installed') });
      const applied = await run(['apply', '--root', tree, '--skip', others]);
      expect(applied.code, applied.err).toBe(0);
      expect((JSON.parse(applied.out) as AgDocument).nodeprep).toMatchObject({ changes: 1, actions: [{ status: 'changed', detail: 'installed 3 (ag-base 1.0-1, ag-lib 2.0-1, ag-node-tool 3.0-1); upgraded 0' }] });
      const again = await run(['apply', '--root', tree, '--skip', others]);
      expect((JSON.parse(again.out) as AgDocument).nodeprep).toMatchObject({ changes: 0, actions: [{ status: 'unchanged' }] });
      const inventory = await run(['inventory', '--root', tree]);
      expect(inventory.code, inventory.err).toBe(0);
      expect(JSON.parse(inventory.out)).toMatchObject({ kind: 'PackageInventory', format: 'rpm', packages: expect.arrayContaining([{ name: 'ag-lib', version: '2.0-1', arch: 'noarch' }]) });
    } finally {
      await rm(tree, { recursive: true, force: true });
      await rm(bundle, { recursive: true, force: true });
    }
  });
});
