import type { AgDocument, Io, Logger } from '@ag/core';
import type { Action } from './actions/types.js';
import type { InitInfo } from './init-system.js';
import type { OsInfo } from './os-release.js';
import type { StepName } from './steps/list.js';

export type SelinuxMode = 'permissive' | 'enforcing';
export type FirewallMode = 'disable' | 'open';
export type IptablesBackend = 'legacy' | 'nft';
export type ResolvedMode = 'disable' | 'keep';
export type CgroupDriver = 'systemd' | 'cgroupfs';

/** Everything an operator can choose; `resolveOptions` fills the defaults. */
export interface NodeprepOptions {
  /** `/` (the host) or a directory: a chroot, an image being built, a test tree. */
  root: string;
  /** Step names to leave out. */
  skip: string[];
  /** The bundle root, when the document's `root` is not where the bundle is now. */
  bundleDir?: string | undefined;
  /** The architecture of the node (default: the document's only one, else this machine's). */
  arch?: string | undefined;
  /** SELinux: permissive (default), or left enforcing with container-selinux. */
  selinux: SelinuxMode;
  /** firewalld: disable it (default) or open the Kubernetes ports. */
  firewall: FirewallMode;
  /** The iptables backend (default: legacy where the OS ships it, nft on RHEL, which has no legacy). */
  iptablesBackend?: IptablesBackend | undefined;
  /** systemd-resolved: disable it with a plain /etc/resolv.conf (default), or keep it; the kubelet gets its own file either way. */
  resolved: ResolvedMode;
  /** The site's nameservers (default: a plain /etc/resolv.conf's, else resolved.conf's DNS=, else what systemd-resolved uses now). */
  nameservers: string[];
  /** The containerd version to write the config for (default: detected). */
  containerdVersion?: string | undefined;
  /** The CRI sandbox (pause) image (default: the document's kubeadm.sandboxImage, else registry.k8s.io/pause:<fetch.components.pause>). */
  sandboxImage?: string | undefined;
  /** systemd (default; what kubeadm configures the kubelet for) or cgroupfs (hosts without systemd, tests). */
  cgroupDriver: CgroupDriver;
  /** Import the bundle's images into containerd's k8s.io namespace. */
  preloadImages: boolean;
  /** containerd's socket, for the preload. */
  containerdAddress: string;
  /** An `ag-registry` to run for `trust` (default: the bundle's tools/, then PATH). */
  agRegistry?: string | undefined;
}

export const DEFAULT_OPTIONS: Omit<NodeprepOptions, 'root'> = {
  skip: [],
  selinux: 'permissive',
  firewall: 'disable',
  resolved: 'disable',
  nameservers: [],
  cgroupDriver: 'systemd',
  preloadImages: false,
  containerdAddress: '/run/containerd/containerd.sock',
};

/** What the containerd step decided; recorded in the nodeprep section. */
export interface ContainerdFacts {
  version?: string;
  versionSource: string;
  configVersion: 2 | 3;
  configFile: string;
  sandboxImage?: string;
  cgroupDriver: CgroupDriver;
  registryConfigPath: string;
  trust: string;
}

/** What every step sees while it plans. */
export interface StepContext {
  root: string;
  hostMode: boolean;
  os: OsInfo;
  init: InitInfo;
  document: AgDocument | undefined;
  /** Where the bundle is on this machine (document root or --dir), if known. */
  bundleRoot: string | undefined;
  arch: string;
  options: NodeprepOptions;
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
  /** Set by the containerd step. */
  containerd?: ContainerdFacts;
  /** Set by the dns step: the kubelet's resolv.conf and the site nameservers in it. */
  dns?: { resolvConf: string; nameservers: string[]; source: string };
}

/**
 * What a step does (steps/<name>.ts). `plan` only reads the node and
 * returns the actions; the engine (apply.ts, check.ts) runs them.
 */
export interface StepCode {
  plan(context: StepContext): Promise<Action[]>;
}

/** One named, skippable step of node preparation: its name and --help line (steps/list.ts) with its code. */
export interface Step extends StepCode {
  name: StepName;
  /** One line, for --help and the docs. */
  summary: string;
}
