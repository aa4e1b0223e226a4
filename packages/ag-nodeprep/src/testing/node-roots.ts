import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { API_VERSION, KIND, type AgDocument, type FileArtifact } from '@ag/core';

/**
 * Small OS trees for `--root` tests, laid out as the real distributions lay
 * them out (paths, packaged configs, enabled-unit links), and a small bundle
 * whose files stand in for kubeadm & co. Test support only.
 */

export type Tree = Record<string, string | { link: string } | { mode: number; content: string }>;

export async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [path, entry] of Object.entries(tree)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    if (typeof entry === 'string') await writeFile(full, entry);
    else if ('link' in entry) await symlink(entry.link, full);
    else await writeFile(full, entry.content, { mode: entry.mode });
  }
}

const unit = (description: string, install: string): string =>
  `[Unit]\nDescription=${description}\n\n[Service]\nExecStart=/usr/bin/true\n\n[Install]\n${install}\n`;

/** Fedora 37 Server as installed: SELinux enforcing, swap in fstab and on zram, firewalld and systemd-resolved on, docker-ce's containerd.io with the CRI off. */
export const FEDORA_37: Tree = {
  'etc/os-release': 'NAME="Fedora Linux"\nVERSION="37 (Server Edition)"\nID=fedora\nVERSION_ID=37\nPRETTY_NAME="Fedora Linux 37 (Server Edition)"\n',
  'usr/lib/systemd/systemd': '',
  'etc/selinux/config': '# This file controls the state of SELinux on the system.\nSELINUX=enforcing\nSELINUXTYPE=targeted\n',
  'etc/fstab': 'UUID=1111-aaaa /     xfs  defaults 0 0\nUUID=2222-bbbb /boot xfs  defaults 0 0\nUUID=3333-cccc none  swap defaults 0 0\n',
  'usr/lib/systemd/zram-generator.conf': '# Fedora default\n[zram0]\nzram-size = min(ram, 8192)\n',
  'usr/lib/systemd/system/firewalld.service': unit('firewalld', 'WantedBy=multi-user.target\nAlias=dbus-org.fedoraproject.FirewallD1.service'),
  'etc/systemd/system/multi-user.target.wants/firewalld.service': { link: '/usr/lib/systemd/system/firewalld.service' },
  'etc/systemd/system/dbus-org.fedoraproject.FirewallD1.service': { link: '/usr/lib/systemd/system/firewalld.service' },
  'etc/firewalld/firewalld.conf': 'DefaultZone=FedoraServer\n',
  'usr/lib/firewalld/zones/FedoraServer.xml': '<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>Fedora Server</short>\n  <service name="ssh"/>\n</zone>\n',
  'usr/lib/systemd/system/systemd-resolved.service': unit('Network Name Resolution', 'WantedBy=multi-user.target\nAlias=dbus-org.freedesktop.resolve1.service'),
  'etc/systemd/system/multi-user.target.wants/systemd-resolved.service': { link: '/usr/lib/systemd/system/systemd-resolved.service' },
  'etc/systemd/system/dbus-org.freedesktop.resolve1.service': { link: '/usr/lib/systemd/system/systemd-resolved.service' },
  'etc/resolv.conf': { link: '../run/systemd/resolve/stub-resolv.conf' },
  'usr/lib/systemd/system/containerd.service': unit('containerd container runtime', 'WantedBy=multi-user.target'),
  'etc/containerd/config.toml': '#   Copyright 2018-2022 Docker Inc.\n\ndisabled_plugins = ["cri"]\n\n#root = "/var/lib/containerd"\n',
  'usr/sbin/iptables-legacy': '',
  'usr/sbin/ip6tables-legacy': '',
};

const RESOLVED_HEADER = (file: string): string =>
  `# This is ${file} managed by man:systemd-resolved(8).\n# Do not edit.\n#\n` +
  '# Third party programs should typically not access this file directly, but only\n' +
  '# through the symlink at /etc/resolv.conf. To manage man:resolv.conf(5) in a\n' +
  '# different way, replace this symlink by a static file or a different symlink.\n\n';

/**
 * systemd-resolved at work: the files it keeps in /run (a tmpfs that only a
 * running resolved fills). Its upstream list names the site's resolver and
 * one outside the site, as DHCP on a second interface (a NAT, a laptop's
 * Wi-Fi) hands them out.
 */
export const RESOLVED_RUNNING: Tree = {
  'run/systemd/resolve/stub-resolv.conf': `${RESOLVED_HEADER('/run/systemd/resolve/stub-resolv.conf')}nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch site.internal\n`,
  'run/systemd/resolve/resolv.conf': `${RESOLVED_HEADER('/run/systemd/resolve/resolv.conf')}nameserver 192.0.2.53\nnameserver 203.0.113.53\nsearch site.internal\n`,
};

/** What /etc/resolv.conf can be: a link to resolved's stub (Fedora, Ubuntu), a link to its upstream list, or a plain file naming the site's resolver. */
export const RESOLV_CONF_STATES = {
  stub: { link: '../run/systemd/resolve/stub-resolv.conf' },
  upstream: { link: '../run/systemd/resolve/resolv.conf' },
  plain: 'nameserver 192.0.2.10\nsearch site.internal\n',
} as const;

/** Debian 12 as installed: swap in fstab, a plain resolv.conf, Debian's containerd 1.6 with CNI in /usr/lib/cni. */
export const DEBIAN_12: Tree = {
  'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
  'lib/systemd/systemd': '',
  'etc/fstab': '# /etc/fstab: static file system information.\nUUID=4444-dddd /    ext4 errors=remount-ro 0 1\n/dev/sda3      none swap sw                0 0\n',
  'etc/resolv.conf': 'nameserver 192.0.2.53\n',
  'lib/systemd/system/containerd.service': unit('containerd container runtime', 'WantedBy=multi-user.target'),
  'etc/containerd/config.toml':
    'version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".cni]\n      bin_dir = "/usr/lib/cni"\n      conf_dir = "/etc/cni/net.d"\n  [plugins."io.containerd.internal.v1.opt"]\n    path = "/var/lib/containerd/opt"\n',
  'var/lib/dpkg/status':
    'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n\nPackage: containerd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.6.20~ds1-1+deb12u3\n',
  'usr/sbin/iptables-legacy': '',
  'usr/sbin/ip6tables-legacy': '',
};

// What upstream's kubepkg templates say (kubernetes/release v0.15.1), /usr/bin paths and all.
export const KUBELET_SERVICE = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

export const KUBEADM_DROPIN = `# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

async function artifact(bundle: string, path: string, fields: Omit<FileArtifact, 'path' | 'sha256' | 'size' | 'source'>): Promise<FileArtifact> {
  const bytes = await readFile(join(bundle, path));
  return {
    ...fields,
    path,
    source: { url: `https://example.invalid/${path}` },
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
  };
}

async function tgz(bundle: string, path: string, dir: string, members: string[]): Promise<void> {
  await execa('tar', ['-czf', join(bundle, path), '-C', dir, ...members]);
}

/** A bundle with stand-ins for every file a node installs, and the document that describes it. */
export async function writeBundle(bundle: string): Promise<AgDocument> {
  const src = join(bundle, '.src');
  const script = (name: string): string => `#!/bin/sh\necho ${name} stand-in\n`;
  await writeTree(bundle, {
    'files/kubeadm': script('kubeadm'),
    'files/kubelet': script('kubelet'),
    'files/kubectl': script('kubectl'),
    'files/kubelet.service': KUBELET_SERVICE,
    'files/10-kubeadm.conf': KUBEADM_DROPIN,
  });
  await writeTree(src, {
    'crictl/crictl': { mode: 0o755, content: script('crictl') },
    'cni/bridge': { mode: 0o755, content: script('bridge') },
    'cni/host-local': { mode: 0o755, content: script('host-local') },
    'cni/loopback': { mode: 0o755, content: script('loopback') },
    'cni/portmap': { mode: 0o755, content: script('portmap') },
    'cni/LICENSE': 'Apache-2.0\n',
    'helm/linux-amd64/helm': { mode: 0o755, content: script('helm') },
    'helm/linux-amd64/LICENSE': 'Apache-2.0\n',
  });
  await tgz(bundle, 'files/crictl-v1.27.0-linux-amd64.tar.gz', join(src, 'crictl'), ['crictl']);
  await tgz(bundle, 'files/cni-plugins-linux-amd64-v1.3.0.tgz', join(src, 'cni'), ['./bridge', './host-local', './loopback', './portmap', './LICENSE']);
  await tgz(bundle, 'files/helm-v3.12.2-linux-amd64.tar.gz', join(src, 'helm'), ['linux-amd64']);
  const binary = (name: string) => ({ name, kind: 'binary' as const, arch: 'amd64' as const, version: 'v1.27.3', install: { path: `/usr/local/bin/${name}`, mode: '0755' } });
  const files: FileArtifact[] = [
    await artifact(bundle, 'files/kubeadm', binary('kubeadm')),
    await artifact(bundle, 'files/kubelet', binary('kubelet')),
    await artifact(bundle, 'files/kubectl', binary('kubectl')),
    await artifact(bundle, 'files/crictl-v1.27.0-linux-amd64.tar.gz', {
      name: 'crictl', kind: 'archive', arch: 'amd64', version: 'v1.27.0', install: { extractTo: '/usr/local/bin', members: ['crictl'], mode: '0755' },
    }),
    await artifact(bundle, 'files/cni-plugins-linux-amd64-v1.3.0.tgz', {
      name: 'cni-plugins', kind: 'archive', arch: 'amd64', version: 'v1.3.0', install: { extractTo: '/opt/cni/bin', members: ['bridge', 'host-local', 'loopback', 'portmap'] },
    }),
    await artifact(bundle, 'files/helm-v3.12.2-linux-amd64.tar.gz', {
      name: 'helm', kind: 'archive', arch: 'amd64', version: 'v3.12.2', install: { extractTo: '/usr/local/bin', members: ['linux-amd64/helm'], mode: '0755' },
    }),
    await artifact(bundle, 'files/kubelet.service', { name: 'kubelet.service', kind: 'systemd-unit', install: { path: '/etc/systemd/system/kubelet.service', mode: '0644' } }),
    await artifact(bundle, 'files/10-kubeadm.conf', { name: '10-kubeadm.conf', kind: 'systemd-unit', install: { path: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', mode: '0644' } }),
  ];
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    root: bundle,
    cluster: {
      kubernetesVersion: 'v1.27.3',
      architectures: ['amd64'],
      os: 'fedora-37',
      cni: { name: 'flannel', version: 'v0.22.0' },
      podSubnet: '10.244.0.0/16',
      serviceSubnet: '10.96.0.0/12',
      dnsDomain: 'cluster.local',
    },
    fetch: {
      components: { kubernetes: 'v1.27.3', pause: '3.9', crictl: 'v1.27.0', cni: 'v1.3.0' },
      imageList: { source: 'table', detail: 'test' },
      files,
      images: [{ ref: 'registry.k8s.io/pause:3.9', role: 'control-plane', component: 'pause' }],
    },
  };
}

/**
 * containerd, runc and containerd.service as `ag-fetch plan --containerd
 * upstream` carries them (containerd's release archive holds bin/…, runc is
 * one binary; `unit` is containerd.service), added to a bundle from writeBundle.
 */
export async function withUpstreamRuntime(document: AgDocument, unit: string, containerd: string, runc: string): Promise<AgDocument> {
  const bundle = document.root!;
  const src = join(bundle, '.src-runtime');
  const program = (name: string, version: string) => ({ mode: 0o755, content: `#!/bin/sh\necho "${name} ${version} (stand-in)"\n` });
  await writeTree(src, Object.fromEntries(['containerd', 'containerd-shim-runc-v2', 'ctr', 'containerd-stress'].map((name) => [`bin/${name}`, program(name, containerd)])));
  const archive = `files/linux/amd64/containerd-${containerd.slice(1)}-linux-amd64.tar.gz`;
  await mkdir(join(bundle, 'files/linux/amd64'), { recursive: true });
  await tgz(bundle, archive, src, ['bin']);
  await writeTree(bundle, {
    [`files/linux/amd64/runc-${runc}.amd64`]: program('runc', runc),
    [`files/systemd/containerd-${containerd}.service`]: unit,
  });
  const files: FileArtifact[] = [
    await artifact(bundle, archive, {
      name: 'containerd', kind: 'archive', arch: 'amd64', version: containerd, install: { extractTo: '/usr/local/bin', members: ['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/ctr'] },
    }),
    await artifact(bundle, `files/linux/amd64/runc-${runc}.amd64`, { name: 'runc', kind: 'binary', arch: 'amd64', version: runc, install: { path: '/usr/local/sbin/runc', mode: '0755' } }),
    await artifact(bundle, `files/systemd/containerd-${containerd}.service`, {
      name: 'containerd.service', kind: 'systemd-unit', version: containerd, install: { path: '/usr/local/lib/systemd/system/containerd.service', mode: '0644' },
    }),
  ];
  return { ...document, fetch: { ...document.fetch!, files: [...document.fetch!.files, ...files] } };
}
