import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { DEBIAN_12, FEDORA_37, KUBEADM_DROPIN, writeBundle, writeTree } from './testing/node-roots.js';
import { listTree, run } from './testing/run.js';
import { treeHash } from '@ag/fixtures';

const HEAD = (step: string, why: string): string =>
  `# Written by ag-nodeprep (step ${step}): ${why}.\n# ag-nodeprep apply rewrites this file; change its options instead of editing here.\n`;

const CONTAINERD_HEAD =
  '# Written by ag-nodeprep (step containerd): CRI enabled, runc with the cgroup driver the kubelet uses,\n' +
  '# the sandbox image kubeadm expects, registries through certs.d/<host>/hosts.toml (no inline mirrors).\n' +
  '# Other settings were kept; ag-nodeprep apply rewrites the keys above.\n\n';

const STAND_IN = (name: string): string => `755 #!/bin/sh\necho ${name} stand-in\n`;

/** What every node gets from the bundle, whatever its OS. */
const FROM_BUNDLE: Record<string, string> = {
  'etc/crictl.yaml': `644 ${HEAD('containerd', 'crictl talks to containerd')}runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\n`,
  'etc/modules-load.d/k8s.conf': `644 ${HEAD('modules', 'kernel modules Kubernetes needs at boot')}overlay\nbr_netfilter\n`,
  'etc/sysctl.d/k8s.conf': `644 ${HEAD('sysctl', 'kernel settings Kubernetes needs')}net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n`,
  'etc/systemd/system/kubelet.service': expect.stringContaining('\nExecStart=/usr/local/bin/kubelet\n') as unknown as string,
  'etc/systemd/system/kubelet.service.d/10-kubeadm.conf': `644 ${KUBEADM_DROPIN.replace('ExecStart=/usr/bin/kubelet', 'ExecStart=/usr/local/bin/kubelet')}`,
  'etc/systemd/system/multi-user.target.wants/kubelet.service': '-> /etc/systemd/system/kubelet.service',
  'etc/systemd/system/swap.target': '-> /dev/null',
  'opt/cni/bin/bridge': STAND_IN('bridge'),
  'opt/cni/bin/host-local': STAND_IN('host-local'),
  'opt/cni/bin/loopback': STAND_IN('loopback'),
  'opt/cni/bin/portmap': STAND_IN('portmap'),
  'usr/local/bin/crictl': STAND_IN('crictl'),
  'usr/local/bin/helm': STAND_IN('helm'),
  'usr/local/bin/kubeadm': STAND_IN('kubeadm'),
  'usr/local/bin/kubectl': STAND_IN('kubectl'),
  'usr/local/bin/kubelet': STAND_IN('kubelet'),
};

describe('ag-nodeprep apply --root', () => {
  let dir: string;
  let document: AgDocument;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-'));
    document = await writeBundle(join(dir, 'bundle'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('prepares a Fedora-like root: exactly these files, and a second apply changes nothing', async () => {
    const root = join(dir, 'fedora');
    await writeTree(root, FEDORA_37);
    const first = await run(['apply', '--root', root, '--nameserver', '10.0.0.53'], document);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code).toBe(0);

    const tree = await listTree(root, ['var/lib/ag/', 'usr/lib/', 'usr/sbin/', 'etc/os-release', 'etc/firewalld/firewalld.conf']);
    expect(tree).toEqual({
      ...FROM_BUNDLE,
      'etc/containerd/config.toml': `644 ${CONTAINERD_HEAD}version = 2

[plugins."io.containerd.grpc.v1.cri"]
sandbox_image = "registry.k8s.io/pause:3.9"

[plugins."io.containerd.grpc.v1.cri".containerd]
default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".cni]
bin_dir = "/opt/cni/bin"
conf_dir = "/etc/cni/net.d"

[plugins."io.containerd.grpc.v1.cri".registry]
config_path = "/etc/containerd/certs.d"

`,
      'etc/fstab': '644 UUID=1111-aaaa /     xfs  defaults 0 0\nUUID=2222-bbbb /boot xfs  defaults 0 0\n# ag-nodeprep (swap off): UUID=3333-cccc none  swap defaults 0 0\n',
      'etc/resolv.conf': `644 ${HEAD('dns', 'a plain resolv.conf for this host (nameservers from --nameserver)')}nameserver 10.0.0.53\n`,
      'etc/kubernetes/resolv.conf': `644 ${HEAD('dns', "the kubelet's resolv.conf: the site's nameservers for pods and CoreDNS (nameservers from --nameserver)")}nameserver 10.0.0.53\n`,
      'etc/selinux/config': '644 # This file controls the state of SELinux on the system.\nSELINUX=permissive\nSELINUXTYPE=targeted\n',
      'etc/systemd/system/multi-user.target.wants/containerd.service': '-> /usr/lib/systemd/system/containerd.service',
      'etc/systemd/zram-generator.conf': `644 ${HEAD('swap', 'no [zram0] section, so zram-generator creates no swap device')}`,
      // firewalld and systemd-resolved: their enable links are gone.
    });

    const section = first.document!.nodeprep!;
    expect(section.os).toMatchObject({ id: 'fedora', version: '37', family: 'fedora', init: 'systemd' });
    expect(section.containerd).toMatchObject({ configVersion: 2, sandboxImage: 'registry.k8s.io/pause:3.9', cgroupDriver: 'systemd', registryConfigPath: '/etc/containerd/certs.d' });
    expect(section.dns).toEqual({ resolvConf: '/etc/kubernetes/resolv.conf', nameservers: ['10.0.0.53'], source: '--nameserver' });
    // Every host command is recorded, and none ran.
    const commands = section.actions.filter((a) => a.action === 'run');
    expect(commands.map((a) => a.target)).toEqual([
      'modprobe overlay',
      'modprobe br_netfilter',
      'sysctl -p /etc/sysctl.d/k8s.conf',
      'swapoff -a',
      'setenforce 0',
      'systemctl stop firewalld.service',
      'alternatives --set iptables /usr/sbin/iptables-legacy',
      'alternatives --set ip6tables /usr/sbin/ip6tables-legacy',
      'systemctl stop systemd-resolved.service',
      'systemctl daemon-reload',
      'systemctl daemon-reload',
      'systemctl restart containerd.service',
    ]);
    expect(commands.every((a) => a.status === 'skipped')).toBe(true);
    // Backups of everything replaced, recorded in the document.
    const fstab = section.actions.find((a) => a.target === '/etc/fstab')!;
    expect(fstab).toMatchObject({ status: 'changed', changed: true, backup: expect.stringMatching(/^\/var\/lib\/ag\/nodeprep\/backups\/\d{8}T\d{6}Z\/etc\/fstab$/) });
    expect(await readFile(join(root, fstab.backup!), 'utf8')).toBe(FEDORA_37['etc/fstab']);
    const resolvBackup = section.actions.find((a) => a.target === '/etc/resolv.conf')!.backup!;
    expect((await listTree(join(root, resolvBackup, '..')))['resolv.conf']).toBe('-> ../run/systemd/resolve/stub-resolv.conf');
    expect(section.changes).toBe(section.actions.filter((a) => a.status === 'changed').length);
    expect(section.changes).toBe(22);

    const after = await listTree(root);
    const second = await run(['apply', '--root', root, '--nameserver', '10.0.0.53'], document);
    expect(second.code).toBe(0);
    expect(second.document!.nodeprep!.changes).toBe(0);
    expect(second.document!.nodeprep!.actions.filter((a) => a.status === 'changed')).toEqual([]);
    expect(second.stderr).toContain('0 change(s)');
    expect(await listTree(root)).toEqual(after);
    // One backup directory and one journal: the second run wrote neither.
    expect(await readdir(join(root, 'var/lib/ag/nodeprep/backups'))).toHaveLength(1);
    expect(await readdir(join(root, 'var/lib/ag/nodeprep/journal'))).toHaveLength(1);
  });

  it('prepares a Debian-like root, keeping what Debian set in containerd\'s config', async () => {
    const root = join(dir, 'debian');
    await writeTree(root, DEBIAN_12);
    const { code, document: out } = await run(['apply', '--root', root], document);
    expect(code).toBe(0);
    const tree = await listTree(root, ['var/lib/', 'lib/', 'usr/sbin/', 'etc/os-release']);
    expect(tree).toEqual({
      ...FROM_BUNDLE,
      'etc/containerd/config.toml': `644 ${CONTAINERD_HEAD}version = 2

[plugins."io.containerd.grpc.v1.cri"]
sandbox_image = "registry.k8s.io/pause:3.9"

[plugins."io.containerd.grpc.v1.cri".cni]
bin_dir = "/opt/cni/bin"
conf_dir = "/etc/cni/net.d"

[plugins."io.containerd.grpc.v1.cri".containerd]
default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".registry]
config_path = "/etc/containerd/certs.d"

[plugins."io.containerd.internal.v1.opt"]
path = "/var/lib/containerd/opt"

`,
      'etc/fstab': '644 # /etc/fstab: static file system information.\nUUID=4444-dddd /    ext4 errors=remount-ro 0 1\n# ag-nodeprep (swap off): /dev/sda3      none swap sw                0 0\n',
      // Debian's plain resolv.conf is left as it is, and the kubelet gets the same nameserver.
      'etc/resolv.conf': '644 nameserver 192.0.2.53\n',
      'etc/kubernetes/resolv.conf': `644 ${HEAD('dns', "the kubelet's resolv.conf: the site's nameservers for pods and CoreDNS (nameservers from /etc/resolv.conf)")}nameserver 192.0.2.53\n`,
      'etc/systemd/system/multi-user.target.wants/containerd.service': '-> /lib/systemd/system/containerd.service',
    });
    const section = out!.nodeprep!;
    expect(section.os).toMatchObject({ id: 'debian', version: '12', family: 'debian' });
    expect(section.containerd).toMatchObject({ version: '1.6.20', versionSource: 'dpkg status', configVersion: 2 });
    expect(section.actions.filter((a) => a.step === 'iptables').map((a) => a.target)).toEqual([
      'update-alternatives --set iptables /usr/sbin/iptables-legacy',
      'update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy',
    ]);
    // No SELinux, no firewalld, no zram on Debian: those steps have nothing to do.
    expect(section.actions.filter((a) => ['selinux', 'firewall'].includes(a.step))).toEqual([]);
    expect((await run(['apply', '--root', root], document)).document!.nodeprep!.changes).toBe(0);
  });

  it('writes config version 3 with the 2.x keys for containerd 2', async () => {
    const root = join(dir, 'debian-containerd2');
    await writeTree(root, DEBIAN_12);
    const { code } = await run(['apply', '--root', root, '--containerd-version', '2.0.2'], document);
    expect(code).toBe(0);
    const config = await readFile(join(root, 'etc/containerd/config.toml'), 'utf8');
    expect(config).toContain(`version = 3

[plugins."io.containerd.cri.v1.images".pinned_images]
sandbox = "registry.k8s.io/pause:3.9"

[plugins."io.containerd.cri.v1.images".registry]
config_path = "/etc/containerd/certs.d"

[plugins."io.containerd.cri.v1.runtime".containerd]
default_runtime_name = "runc"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
SystemdCgroup = true

[plugins."io.containerd.cri.v1.runtime".cni]
bin_dir = "/opt/cni/bin"
conf_dir = "/etc/cni/net.d"
`);
    expect(config).not.toContain('io.containerd.grpc.v1.cri');
  });

  it('leaves out skipped steps, and records them', async () => {
    const root = join(dir, 'fedora-skip');
    await writeTree(root, FEDORA_37);
    const { code, document: out } = await run(['apply', '--root', root, '--skip', 'selinux', '--skip', 'firewall,dns'], document);
    expect(code).toBe(0);
    const section = out!.nodeprep!;
    expect(section.skipped).toEqual(['selinux', 'firewall', 'dns']);
    expect(new Set(section.actions.map((a) => a.step))).toEqual(new Set(['modules', 'sysctl', 'swap', 'iptables', 'binaries', 'kubelet', 'containerd']));
    expect(await readFile(join(root, 'etc/selinux/config'), 'utf8')).toBe(FEDORA_37['etc/selinux/config']);
    const tree = await listTree(root);
    expect(tree['etc/systemd/system/multi-user.target.wants/firewalld.service']).toBe('-> /usr/lib/systemd/system/firewalld.service');
    expect(tree['etc/resolv.conf']).toBe('-> ../run/systemd/resolve/stub-resolv.conf');
  });

  it('refuses an unknown step name and an unknown OS, with what to do', async () => {
    const root = join(dir, 'fedora-skip');
    const badStep = await run(['apply', '--root', root, '--skip', 'swapp'], document);
    expect(badStep.code).toBe(2);
    expect(badStep.stderr).toContain('--skip swapp: no such step; the steps are packages, modules, sysctl, swap');

    const alpine = join(dir, 'alpine');
    await writeTree(alpine, { 'etc/os-release': 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n' });
    const refused = await run(['apply', '--root', alpine], document);
    expect(refused.code).toBe(6);
    expect(refused.document).toBeUndefined();
    expect(refused.stderr).toContain('this host runs Alpine Linux v3.19 (ID=alpine), which ag-nodeprep does not prepare; it supports Fedora 37+');
    expect(await listTree(alpine)).toEqual({ 'etc/os-release': expect.any(String) });

    const old = join(dir, 'centos7');
    await writeTree(old, { 'etc/os-release': 'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n', 'usr/lib/systemd/systemd': '' });
    expect((await run(['plan', '--root', old], document)).stderr).toContain('CentOS Linux 7 (Core) (VERSION_ID=7), too old or unknown');

    const empty = join(dir, 'empty');
    await writeTree(empty, { 'README': 'not an OS\n' });
    const missing = await run(['plan', '--root', empty], document);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('etc/os-release');
  });

  it('plan changes nothing and says what apply would change', async () => {
    const root = join(dir, 'fedora-plan');
    await writeTree(root, FEDORA_37);
    const before = await listTree(root);
    const { code, document: out } = await run(['plan', '--root', root, '--nameserver', '10.0.0.53'], document);
    expect(code).toBe(0);
    expect(await listTree(root)).toEqual(before);
    const section = out!.nodeprep!;
    expect(section.mode).toBe('plan');
    expect(section.changes).toBe(0);
    const fstab = section.actions.find((a) => a.target === '/etc/fstab')!;
    expect(fstab).toMatchObject({ status: 'planned', detail: 'swap is on at boot: /etc/fstab line 3: UUID=3333-cccc none  swap defaults 0 0' });
    expect(fstab.content).toContain('# ag-nodeprep (swap off): UUID=3333-cccc');
    expect(section.actions.find((a) => a.target === '/usr/local/bin/kubeadm')).toMatchObject({ action: 'install-file', source: 'files/kubeadm', mode: '0755', sha256: expect.stringMatching(/^[a-f0-9]{64}$/) });
    // apply --dry-run is plan.
    const dry = await run(['apply', '--dry-run', '--root', root, '--nameserver', '10.0.0.53'], document);
    expect(dry.document!.nodeprep!.mode).toBe('plan');
    expect(await listTree(root)).toEqual(before);
  });

  it('refuses a bundle file whose checksum does not match before changing anything', async () => {
    const root = join(dir, 'debian-tampered');
    await writeTree(root, DEBIAN_12);
    const bundle = join(dir, 'bundle-tampered');
    const tampered = await writeBundle(bundle);
    await writeFile(join(bundle, 'files/kubectl'), '#!/bin/sh\necho not kubectl\n');
    const before = await treeHash(root);
    const { code, stderr, document: out } = await run(['apply', '--root', root, '--skip', 'kubelet'], tampered);
    expect(code).toBe(3);
    expect(out).toBeUndefined();
    expect(stderr).toMatch(/binaries: \/usr\/local\/bin\/kubectl: files\/kubectl in the bundle has sha256 [a-f0-9]{64}, but the document says [a-f0-9]{64}/);
    expect(stderr).toContain('nothing was changed');
    // Found before the first write: kubeadm, the modules file, everything else is as it was, and no journal names a run that did nothing.
    expect(await treeHash(root)).toBe(before);
    expect(stderr).not.toContain('journal');
  });
});
