import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse, stringify, type TomlTable } from 'smol-toml';

/**
 * The far node's OS tree for `ag-nodeprep apply --root`: the files of a
 * freshly installed Debian 12 that ag-nodeprep reads (os-release, fstab with
 * swap, the resolv.conf, Debian's containerd package config and unit, and
 * systemd). The node really is this Debian 12 machine, whose containerd the
 * run starts with what ag-nodeprep writes here.
 */
export const DEBIAN_12_NODE: Record<string, string> = {
  'etc/os-release':
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
  'etc/fstab': '# /etc/fstab: static file system information.\nUUID=4444-dddd /    ext4 errors=remount-ro 0 1\n/dev/vda3      none swap sw                0 0\n',
  'etc/resolv.conf': 'nameserver 192.0.2.53\n',
  // Debian's containerd 1.6 package ships this config.toml.
  'etc/containerd/config.toml':
    'version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".cni]\n      bin_dir = "/usr/lib/cni"\n      conf_dir = "/etc/cni/net.d"\n  [plugins."io.containerd.internal.v1.opt"]\n    path = "/var/lib/containerd/opt"\n',
  'lib/systemd/system/containerd.service':
    '[Unit]\nDescription=containerd container runtime\nAfter=network.target local-fs.target\n\n[Service]\nExecStart=/usr/bin/containerd\n\n[Install]\nWantedBy=multi-user.target\n',
  // ag-nodeprep checks that systemd is installed; only its presence matters here.
  'lib/systemd/systemd': '',
};

export async function writeFarRoot(root: string): Promise<void> {
  for (const [path, content] of Object.entries(DEBIAN_12_NODE)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/**
 * The containerd config ag-nodeprep wrote for the node, adapted to run as a
 * private instance next to anything else on this machine: only `root`,
 * `state`, the two socket addresses and the registry `config_path` (to the
 * certs.d `ag-registry trust --root` wrote in the node's tree) change; the
 * CRI plugin, runc with its cgroup driver, the sandbox image and everything
 * else stay as ag-nodeprep wrote them.
 */
export function adaptContainerdConfig(text: string, dir: string, certsDir: string): string {
  const config = parse(text) as TomlTable;
  config['root'] = join(dir, 'root');
  config['state'] = join(dir, 'state');
  config['grpc'] = { ...((config['grpc'] as TomlTable | undefined) ?? {}), address: join(dir, 'containerd.sock') };
  config['ttrpc'] = { ...((config['ttrpc'] as TomlTable | undefined) ?? {}), address: join(dir, 'containerd.sock.ttrpc') };
  const plugins = config['plugins'] as TomlTable | undefined;
  const cri = plugins?.['io.containerd.grpc.v1.cri'] as TomlTable | undefined;
  const registry = cri?.['registry'] as TomlTable | undefined;
  if (registry?.['config_path'] !== '/etc/containerd/certs.d') {
    throw new Error(`ag-nodeprep's containerd config has no registry config_path = "/etc/containerd/certs.d":\n${text}`);
  }
  registry['config_path'] = certsDir;
  return stringify(config);
}
