import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { main } from './cli.js';
import { FEDORA_37, writeBundle, writeTree } from './testing/node-roots.js';
import { listTree, run } from './testing/run.js';
import { treeHash } from '@ag/fixtures';

describe('ag-nodeprep options', () => {
  let dir: string;
  let document: AgDocument;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-opt-'));
    document = await writeBundle(join(dir, 'bundle'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('--help lists every step and shows examples', async () => {
    const io = createTestIo();
    expect(await main(['--help'], io)).toBe(0);
    for (const step of ['modules', 'sysctl', 'swap', 'selinux', 'firewall', 'iptables', 'dns', 'binaries', 'kubelet', 'containerd', 'preload']) {
      expect(io.stdoutText()).toMatch(new RegExp(`^${step}: `, 'm'));
    }
    expect(io.stdoutText()).toContain('ag-nodeprep apply --root /mnt/image');
  });

  it('--firewall open keeps firewalld and opens the Kubernetes ports in its default zone', async () => {
    const root = join(dir, 'open');
    await writeTree(root, FEDORA_37);
    const { code } = await run(['apply', '--root', root, '--firewall', 'open', '--skip', 'binaries,kubelet,containerd,dns'], document);
    expect(code).toBe(0);
    const zone = await readFile(join(root, 'etc/firewalld/zones/FedoraServer.xml'), 'utf8');
    expect(zone).toBe('<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>Fedora Server</short>\n  <service name="ssh"/>\n  <service name="ag-kubernetes"/>\n</zone>\n');
    const service = await readFile(join(root, 'etc/firewalld/services/ag-kubernetes.xml'), 'utf8');
    expect(service).toContain('<port protocol="tcp" port="6443"/>');
    expect(service).toContain('<port protocol="udp" port="8472"/>');
    expect((await listTree(root))['etc/systemd/system/multi-user.target.wants/firewalld.service']).toBe('-> /usr/lib/systemd/system/firewalld.service');
  });

  it('--selinux enforcing leaves SELinux on, needs container-selinux, and turns on the CRI\'s labelling', async () => {
    const root = join(dir, 'enforcing');
    await writeTree(root, FEDORA_37);
    const args = ['apply', '--root', root, '--selinux', 'enforcing', '--skip', 'binaries,kubelet,dns'];
    const before = await treeHash(root);
    const missing = await run(args, document);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('selinux: the container-selinux policy is not installed');
    // Found before the first write: the root is as it was.
    expect(await treeHash(root)).toBe(before);
    expect(missing.stderr).toContain('next: install container-selinux');
    await writeTree(root, { 'usr/share/selinux/packages/container.pp.bz2': '' });
    expect((await run(args, document)).code).toBe(0);
    expect(await readFile(join(root, 'etc/selinux/config'), 'utf8')).toContain('SELINUX=enforcing');
    expect(await readFile(join(root, 'etc/containerd/config.toml'), 'utf8')).toContain('enable_selinux = true');
  });

  it('will not replace systemd-resolved\'s stub without a nameserver to put in its place', async () => {
    const root = join(dir, 'no-dns');
    await writeTree(root, FEDORA_37);
    const before = await treeHash(root);
    const { code, stderr } = await run(['apply', '--root', root, '--skip', 'binaries,kubelet'], document);
    expect(code).toBe(5);
    expect(await treeHash(root)).toBe(before);
    expect(stderr).toContain('no nameserver is known for /etc/resolv.conf');
    expect(stderr).toContain("next: pass --nameserver IP (the site's DNS server)");
    // resolved.conf's DNS= is used when the operator set one there.
    await writeTree(root, { 'etc/systemd/resolved.conf': '[Resolve]\nDNS=10.1.2.3 10.1.2.4\n' });
    expect((await run(['apply', '--root', root, '--skip', 'binaries,kubelet'], document)).code).toBe(0);
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8')).toMatch(/nameserver 10\.1\.2\.3\nnameserver 10\.1\.2\.4\n$/);
  });
});
