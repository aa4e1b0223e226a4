import { describe, expect, it } from 'vitest';
import { containerdConfig, containerdSettings, type ContainerdConfigOptions } from './containerd-config.js';
import { dpkgContainerdVersion, configVersionFor, plainVersion, readsCniBinDirs } from './containerd-version.js';
import { chooseSandboxImage, registryHost } from './sandbox-image.js';
import { newDocument } from '@ag/core';

const V2: ContainerdConfigOptions = {
  configVersion: 2,
  sandboxImage: 'registry.k8s.io/pause:3.9',
  systemdCgroup: true,
  registryConfigPath: '/etc/containerd/certs.d',
  cniBinDir: '/opt/cni/bin',
  cniBinDirList: false,
  cniConfDir: '/etc/cni/net.d',
  enableSelinux: false,
};

describe('containerdConfig', () => {
  it('undoes a packaged disabled_plugins = ["cri"], drops inline mirrors and keeps the operator\'s other settings', () => {
    const current = `version = 2
root = "/data/containerd"
disabled_plugins = ["cri", "io.containerd.snapshotter.v1.devmapper"]
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "k8s.gcr.io/pause:3.6"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["https://mirror.example"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = false
    BinaryName = "/usr/local/sbin/runc"
`;
    const { text, notes } = containerdConfig(current, V2);
    const settings = containerdSettings(text);
    expect(settings).toEqual({
      version: 2,
      disabled: ['io.containerd.snapshotter.v1.devmapper'],
      sandboxImage: 'registry.k8s.io/pause:3.9',
      systemdCgroup: true,
      configPath: '/etc/containerd/certs.d',
      mirrors: false,
    });
    expect(text).toContain('root = "/data/containerd"');
    expect(text).toContain('BinaryName = "/usr/local/sbin/runc"');
    expect(notes).toEqual([
      'removed cri from disabled_plugins (the CRI must run)',
      'removed inline registry.mirrors (containerd refuses them with config_path; certs.d/<host>/hosts.toml replaces them)',
    ]);
    // Its own output merged again is the same text: apply's idempotency rests on this.
    expect(containerdConfig(text, V2)).toEqual({ text, notes: [] });
  });

  it('starts afresh from a config of another version, and says so', () => {
    const { text, notes } = containerdConfig('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "x"\n', { ...V2, configVersion: 3 });
    expect(notes).toEqual(['the previous config was version 2, not 3; started afresh (its keys live under other names)']);
    expect(containerdSettings(text)).toMatchObject({ version: 3, sandboxImage: 'registry.k8s.io/pause:3.9', configPath: '/etc/containerd/certs.d', systemdCgroup: true });
    expect(containerdConfig('not = [toml', V2).notes[0]).toMatch(/^the previous config did not parse as TOML/);
  });

  it('names the CNI directory as each containerd 2.x reads it: bin_dir for 2.0, the list bin_dirs from 2.1', () => {
    const for20 = containerdConfig(undefined, { ...V2, configVersion: 3 });
    expect(for20.text).toContain('[plugins."io.containerd.cri.v1.runtime".cni]\nbin_dir = "/opt/cni/bin"\n');
    // The node's containerd upgraded from 2.0 to 2.1: apply rewrites the deprecated name, and says so.
    const for21 = containerdConfig(for20.text, { ...V2, configVersion: 3, cniBinDirList: true });
    expect(for21.text).toMatch(/\[plugins\."io\.containerd\.cri\.v1\.runtime"\.cni\]\n(conf_dir = .*\n)?bin_dirs = \[ "\/opt\/cni\/bin" \]\n/);
    expect(for21.text).not.toContain('bin_dir =');
    expect(for21.notes).toEqual(['replaced cni.bin_dir by cni.bin_dirs (the name this containerd reads)']);
    expect(containerdConfig(for21.text, { ...V2, configVersion: 3, cniBinDirList: true })).toEqual({ text: for21.text, notes: [] });
    expect(['2.0.7', '2.1.0', '2.3.5', '3.0.0', undefined].map(readsCniBinDirs)).toEqual([false, true, true, true, false]);
  });

  it('enables SELinux labelling in the CRI when SELinux stays enforcing', () => {
    expect(containerdConfig(undefined, { ...V2, enableSelinux: true }).text).toMatch(/\[plugins\."io\.containerd\.grpc\.v1\.cri"\]\nsandbox_image = .*\nenable_selinux = true/);
    expect(containerdConfig(undefined, { ...V2, configVersion: 3, enableSelinux: true }).text).toMatch(/\[plugins\."io\.containerd\.cri\.v1\.runtime"\]\nenable_selinux = true/);
  });
});

describe('containerd version and sandbox image', () => {
  it('reads versions the way distributions write them', () => {
    expect(plainVersion('1.6.20~ds1-1+deb12u3')).toBe('1.6.20');
    expect(plainVersion('v2.0.2')).toBe('2.0.2');
    expect(dpkgContainerdVersion('Package: containerd.io\nStatus: install ok installed\nVersion: 1.7.22-1\n')).toBe('1.7.22');
    expect(dpkgContainerdVersion('Package: containerd\nStatus: deinstall ok config-files\nVersion: 1.6.20\n')).toBeUndefined();
    expect([configVersionFor(undefined), configVersionFor('1.7.22'), configVersionFor('2.1.0')]).toEqual([2, 2, 3]);
  });

  it('chooses the sandbox image: flag, kubeadm section, fetch.components.pause, then kubeadm\'s default', () => {
    const doc = { ...newDocument(), kubeadm: { sandboxImage: 'registry.k8s.io/pause:3.10' } } as never;
    expect(chooseSandboxImage(doc, 'example.org/pause:1')).toEqual({ image: 'example.org/pause:1', source: '--sandbox-image' });
    expect(chooseSandboxImage(doc, undefined)).toEqual({ image: 'registry.k8s.io/pause:3.10', source: 'kubeadm.sandboxImage' });
    const cluster = { kubernetesVersion: 'v1.31.2', architectures: ['amd64'], os: 'debian-12', cni: { name: 'flannel', version: 'v0.22.0' }, podSubnet: '', serviceSubnet: '', dnsDomain: '' };
    expect(chooseSandboxImage({ ...newDocument(), cluster } as never, undefined).image).toBe('registry.k8s.io/pause:3.10');
    expect(chooseSandboxImage(newDocument(), undefined).image).toBeUndefined();
    expect([registryHost('registry.k8s.io/pause:3.9'), registryHost('flannel/flannel:v0.22.0'), registryHost('busybox')]).toEqual(['registry.k8s.io', 'docker.io', 'docker.io']);
  });
});
