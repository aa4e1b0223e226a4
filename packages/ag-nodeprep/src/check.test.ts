import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newDocument, type AgDocument } from '@ag/core';
import { FEDORA_37, writeBundle, writeTree } from './testing/node-roots.js';
import { run } from './testing/run.js';

describe('ag-nodeprep check', () => {
  let dir: string;
  let document: AgDocument;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-check-'));
    document = await writeBundle(join(dir, 'bundle'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists every missing item of a deliberately incomplete root in one run, exit 5, nothing on stdout', async () => {
    const root = join(dir, 'fedora');
    await writeTree(root, FEDORA_37);
    expect((await run(['apply', '--root', root, '--skip', 'swap,selinux,dns', '--nameserver', '10.0.0.53'], document)).code).toBe(0);
    // Then break it in ways apply would fix.
    await rm(join(root, 'usr/local/bin/helm'));
    await writeFile(join(root, 'usr/local/bin/kubectl'), '#!/bin/sh\necho tampered\n');
    await chmod(join(root, 'opt/cni/bin/bridge'), 0o644);
    await appendFile(join(root, 'etc/containerd/config.toml'), '\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\nendpoint = ["https://mirror.example"]\n');
    await rm(join(root, 'etc/systemd/system/multi-user.target.wants/kubelet.service'));

    const { code, stderr, document: out } = await run(['check', '--root', root, '--nameserver', '10.0.0.53'], document);
    expect(code).toBe(5);
    expect(out).toBeUndefined();
    const problems = stderr.split('\n').filter((line) => line.startsWith('ag-nodeprep: error: not ready: '));
    expect(problems.map((line) => line.replace('ag-nodeprep: error: not ready: ', '')).map((line) => line.replace(/[a-f0-9]{64}/g, '<sha>'))).toEqual([
      'swap: swap is on at boot: /etc/fstab line 3: UUID=3333-cccc none  swap defaults 0 0',
      'swap: /etc/systemd/zram-generator.conf is missing',
      'swap: /etc/systemd/system/swap.target is missing (wanted a link to /dev/null)',
      'selinux: SELinux is enforcing at boot (/etc/selinux/config), wanted permissive',
      'dns: /etc/resolv.conf is a symlink to ../run/systemd/resolve/stub-resolv.conf; a plain file is wanted',
      'dns: systemd-resolved.service is enabled (/etc/systemd/system/dbus-org.freedesktop.resolve1.service)',
      'dns: systemd-resolved.service is enabled (/etc/systemd/system/multi-user.target.wants/systemd-resolved.service)',
      'dns: /etc/kubernetes/resolv.conf is missing',
      'binaries: /usr/local/bin/kubectl has sha256 <sha>, wanted <sha>',
      'binaries: /opt/cni/bin/bridge has mode 0644, wanted 0755',
      'binaries: /usr/local/bin/helm is missing',
      'kubelet: kubelet.service is not enabled: /etc/systemd/system/multi-user.target.wants/kubelet.service is missing',
      'containerd: containerd config has inline registry mirrors (refused together with config_path)',
    ]);
    expect(stderr).toContain('ag-nodeprep: error: 13 thing(s) not ready for kubeadm (listed above)');
    expect(stderr).toContain('next: run ag-nodeprep apply');

    // apply fixes all of it; check then passes and writes the document.
    expect((await run(['apply', '--root', root, '--nameserver', '10.0.0.53'], document)).code).toBe(0);
    const ready = await run(['check', '--root', root, '--nameserver', '10.0.0.53'], document);
    expect(ready.code).toBe(0);
    expect(ready.document!.nodeprep).toMatchObject({ mode: 'check', changes: 0, checkedAt: expect.any(String) });
  });

  it('without a document, checks the OS settings and that the programs are there at all', async () => {
    const root = join(dir, 'bare');
    await writeTree(root, FEDORA_37);
    const { code, stderr } = await run(['check', '--root', root, '--skip', 'swap,selinux,firewall,dns,containerd'], newDocument());
    expect(code).toBe(5);
    const problems = stderr.split('\n').filter((line) => line.includes('not ready: '));
    expect(problems.map((line) => line.replace(/^.*not ready: /, ''))).toEqual([
      'modules: /etc/modules-load.d/k8s.conf is missing',
      'sysctl: /etc/sysctl.d/k8s.conf is missing',
      'binaries: kubeadm is not installed (neither /usr/local/bin/kubeadm nor /usr/bin/kubeadm)',
      'binaries: kubelet is not installed (neither /usr/local/bin/kubelet nor /usr/bin/kubelet)',
      'binaries: kubectl is not installed (neither /usr/local/bin/kubectl nor /usr/bin/kubectl)',
      'binaries: crictl is not installed (neither /usr/local/bin/crictl nor /usr/bin/crictl)',
      'binaries: CNI plugins missing from /opt/cni/bin: bridge, host-local, loopback, portmap',
    ]);
  });

  it.runIf(existsSync('/lib/systemd/systemd') && !existsSync('/run/systemd/system'))('on this machine (systemd installed, not running), reports the init system and the live state instead of refusing', async () => {
    const { code, stderr } = await run(['check', '--skip', 'binaries,kubelet,containerd,dns,firewall,selinux,iptables'], newDocument());
    expect(code).toBe(5);
    expect(stderr).toContain('not ready: init: init system: systemd is installed but not running as init');
    // The live kernel state is read, not guessed (this container has no br_netfilter).
    const loaded = await stat('/sys/module/br_netfilter').then(() => true, () => false);
    if (loaded) expect(stderr).not.toMatch(/kernel module br_netfilter is not loaded/);
    else expect(stderr).toMatch(/not ready: modules: kernel module br_netfilter is not loaded/);
    // apply refuses outright rather than half-prepare a host it cannot drive.
    const apply = await run(['apply', '--skip', 'binaries'], newDocument());
    expect(apply.code).toBe(6);
    expect(apply.stderr).toContain('refusing to prepare this host: init system: systemd is installed but not running as init');
    expect(apply.stderr).toContain('pass --root DIR');
  });
});
