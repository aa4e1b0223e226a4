import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { DEBIAN_12, RESOLV_CONF_STATES, writeBundle, writeTree, type Tree } from './testing/node-roots.js';
import { listTree, run } from './testing/run.js';
import { treeHash } from '@ag/fixtures';

/**
 * A Debian 12 node as an operator meets it on a first try: /etc/resolv.conf
 * a link to a systemd-resolved stub that does not run (no nameserver known),
 * no containerd installed (no unit), OS packages the plan asked for but the
 * bundle does not carry (download ran with --no-os-packages), and a bundle
 * that lost kubectl. Before, apply stopped at the first of these after
 * changing the root, and again at the next after the operator fixed it.
 */
const FIRST_TRY: Tree = {
  ...Object.fromEntries(Object.entries(DEBIAN_12).filter(([path]) => path !== 'lib/systemd/system/containerd.service' && path !== 'etc/resolv.conf')),
  'etc/resolv.conf': RESOLV_CONF_STATES.stub,
  // dpkg knows bash only: containerd, conntrack and socat are not installed.
  'var/lib/dpkg/status': 'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n',
};

const PACKAGES = { os: 'debian-12', format: 'deb', manager: 'apt', architectures: ['amd64'], requested: ['containerd', 'conntrack', 'socat'] } as const;

describe('ag-nodeprep finds every blocker before it changes anything', () => {
  let dir: string;
  let document: AgDocument;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-blockers-'));
    const bundle = join(dir, 'bundle');
    document = { ...(await writeBundle(bundle)), packages: { ...PACKAGES, requested: [...PACKAGES.requested], architectures: [...PACKAGES.architectures] } };
    document.cluster!.os = 'debian-12';
    await unlink(join(bundle, 'files/kubectl'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('plan and apply list them all at once, exit 5, and leave the root exactly as it was', async () => {
    const root = join(dir, 'first-try');
    await writeTree(root, FIRST_TRY);
    const before = await treeHash(root);

    for (const verb of ['plan', 'apply']) {
      const { code, stderr, document: out } = await run([verb, '--root', root], document);
      expect(code, stderr).toBe(5);
      expect(out).toBeUndefined();
      expect(stderr).toContain('4 thing(s) stand in the way; nothing was changed:');
      expect(stderr).toContain('packages: this node lacks containerd, conntrack, socat, and the bundle carries no OS packages (next: carry them');
      expect(stderr).toMatch(/dns: \/etc\/resolv\.conf: no nameserver is known for \/etc\/resolv\.conf.*\(next: pass --nameserver IP/);
      expect(stderr).toContain(`binaries: /usr/local/bin/kubectl: files/kubectl is not in the bundle (no ${join(dir, 'bundle/files/kubectl')})`);
      expect(stderr).toContain('containerd: cannot enable containerd.service: no unit file in /etc/systemd/system, /usr/local/lib/systemd/system, /usr/lib/systemd/system, /lib/systemd/system, and no OS package of this run provides one');
      // Nothing was written, so no journal is named.
      expect(stderr).not.toContain('journal');
      expect(await treeHash(root)).toBe(before);
    }
  });

  it('once they are resolved, apply goes through in one run', async () => {
    const root = join(dir, 'resolved');
    await writeTree(root, {
      ...FIRST_TRY,
      'lib/systemd/system/containerd.service': DEBIAN_12['lib/systemd/system/containerd.service']!,
      'var/lib/dpkg/status': ['bash', 'containerd', 'conntrack', 'socat'].map((name) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n`).join('\n'),
    });
    const fixed = await writeBundle(join(dir, 'bundle-whole'));
    const { code, stderr, document: out } = await run(['apply', '--root', root, '--nameserver', '10.0.0.53'], { ...fixed, packages: document.packages! });
    expect(code, stderr).toBe(0);
    expect(out!.nodeprep!.changes).toBeGreaterThan(10);
  });

  it('a failure only the run itself meets stops it, and names the journal it wrote', async () => {
    const root = join(dir, 'mid-run');
    // Nothing a look can tell: /etc/sysctl.d is a file, so writing k8s.conf into it fails after the modules step wrote its file.
    await writeTree(root, { ...DEBIAN_12, 'etc/sysctl.d': 'not a directory\n' });
    const whole = await writeBundle(join(dir, 'bundle-mid-run'));
    const { code, stderr } = await run(['apply', '--root', root], whole);
    expect(code).not.toBe(0);
    expect(stderr).toContain('step sysctl: create /etc/sysctl.d/k8s.conf:');
    const journals = await readdir(join(root, 'var/lib/ag/nodeprep/journal'));
    expect(journals).toHaveLength(1);
    expect(stderr).toContain(`stopped after 1 change(s); the journal is /var/lib/ag/nodeprep/journal/${journals[0]} under ${root}`);

    // Where the journal cannot be written, it is not named.
    const noJournal = join(dir, 'mid-run-no-journal');
    await writeTree(noJournal, { ...DEBIAN_12, 'etc/sysctl.d': 'not a directory\n', 'var/lib/ag': 'not a directory\n' });
    const second = await run(['apply', '--root', noJournal], whole);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('could not write the journal');
    expect(second.stderr).toMatch(/stopped after \d+ change\(s\)\n/);
    expect(second.stderr).not.toContain('the journal is');
    expect((await listTree(noJournal))['var/lib/ag']).toBe('644 not a directory\n');
  });

  it('counts what the packages step brings: containerd\'s unit from a carried package is no blocker', async () => {
    const root = join(dir, 'carried');
    await writeTree(root, { ...FIRST_TRY, 'etc/resolv.conf': 'nameserver 192.0.2.53\n' });
    const whole = await writeBundle(join(dir, 'bundle-carried'));
    // A real .deb of containerd's name holding its unit, as dpkg-deb builds it.
    const { buildDeb } = await import('./testing/debs.js');
    const deb = await buildDeb(join(whole.root!, 'packages'), { name: 'containerd', version: '1.6.20-1', files: { '/lib/systemd/system/containerd.service': DEBIAN_12['lib/systemd/system/containerd.service'] as string } });
    await writeFile(join(whole.root!, 'packages/Packages'), '');
    const carried: AgDocument = {
      ...whole,
      packages: { ...PACKAGES, requested: ['containerd'], architectures: ['amd64'], repository: 'packages', closure: [{ name: 'containerd', version: '1.6.20-1', arch: 'amd64', path: `packages/${deb.file}`, sha256: deb.sha256, size: deb.size }] },
    };
    const { code, stderr, document: out } = await run(['plan', '--root', root], carried);
    expect(code, stderr).toBe(0);
    const actions = out!.nodeprep!.actions;
    expect(actions.find((a) => a.action === 'install-packages')).toMatchObject({ status: 'planned', change: "install containerd (apt, from the bundle's packages)" });
    expect(actions.find((a) => a.target === 'containerd.service')).toMatchObject({ status: 'planned', change: 'enable containerd.service' });

    // The same package without the unit: enabling containerd is blocked, before anything is installed.
    const empty = await buildDeb(join(whole.root!, 'packages-empty'), { name: 'containerd', version: '1.6.20-1', files: { '/usr/share/doc/containerd/README': 'no unit here\n' } });
    await writeFile(join(whole.root!, 'packages-empty/Packages'), '');
    const without: AgDocument = {
      ...carried,
      packages: { ...carried.packages!, repository: 'packages-empty', closure: [{ ...carried.packages!.closure![0]!, path: `packages-empty/${empty.file}`, sha256: empty.sha256, size: empty.size }] },
    };
    const blocked = await run(['plan', '--root', root], without);
    expect(blocked.code).toBe(5);
    expect(blocked.stderr).toContain('cannot enable containerd.service: no unit file');
  });
});
