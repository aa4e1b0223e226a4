import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from './common.js';

/**
 * One thing ag-nodeprep did, or would do: what file, what content, what
 * command, and why. `plan` lists them with status `planned`; `apply` records
 * what happened to each.
 */
export const NodeAction = Type.Object({
  step: Type.String({ description: 'the named, skippable step, e.g. sysctl, swap, containerd' }),
  action: Type.String({
    description: 'write-file, install-file, extract-archive, symlink, remove-file, run, preload-images, require',
  }),
  target: Type.Optional(Type.String({ description: 'the file (absolute on the node, under --root when given) or the unit, command or image' })),
  why: Type.String(),
  /** write-file: the whole content as written. */
  content: Type.Optional(Type.String()),
  /** Octal mode, e.g. "0755". */
  mode: Type.Optional(Type.String({ pattern: '^0[0-7]{3}$' })),
  /** install-file, extract-archive: the file in the bundle, relative to the bundle root. */
  source: Type.Optional(Type.String()),
  /** install-file, extract-archive: the SHA-256 the source must have (from fetch.files). */
  sha256: Type.Optional(Type.String()),
  /** extract-archive: the members installed, each with the SHA-256 written. */
  members: Type.Optional(Type.Array(Type.Object({ name: Type.String(), path: Type.String(), sha256: Type.Optional(Type.String()) }))),
  /** symlink: where the link points (`/dev/null` masks a unit). */
  linkTo: Type.Optional(Type.String()),
  /** run: the command, as argv. */
  command: Type.Optional(Type.Array(Type.String())),
  /** run: only on the host itself; never with --root. */
  hostOnly: Type.Optional(Type.Boolean()),
  status: Type.Optional(
    Type.Union([Type.Literal('planned'), Type.Literal('changed'), Type.Literal('unchanged'), Type.Literal('skipped'), Type.Literal('failed')]),
  ),
  /** Why it was skipped or failed, or what apply found. */
  detail: Type.Optional(Type.String()),
  /**
   * plan and apply: what apply does (did) to the node, phrased as a change:
   * "create /etc/modules-load.d/k8s.conf", "change /etc/containerd/config.toml",
   * "disable systemd-resolved.service", "run modprobe overlay".
   */
  change: Type.Optional(Type.String()),
  /** write-file: the unified diff (diff -u) from the node's file to what apply writes; `--- /dev/null` for a new file. */
  diff: Type.Optional(Type.String()),
  changed: Type.Optional(Type.Boolean()),
  /** Where the previous version of a changed file was kept. */
  backup: Type.Optional(Type.String()),
});
export type NodeAction = Static<typeof NodeAction>;

/** What the containerd step chose, for the stages after it (ag-kubeadm reads sandboxImage and cgroupDriver). */
export const NodeprepContainerd = Type.Object({
  version: Type.Optional(Type.String({ description: 'the containerd version the config was written for, when known' })),
  versionSource: Type.String({ description: 'flag, the bundle (fetch.files), dpkg status, containerd --version, packages section, or default' }),
  configVersion: Type.Integer({ description: '2 for containerd 1.6/1.7 (also read by 2.x), 3 for containerd 2.x' }),
  configFile: Type.String(),
  sandboxImage: Type.Optional(Type.String()),
  cgroupDriver: Type.Union([Type.Literal('systemd'), Type.Literal('cgroupfs')]),
  registryConfigPath: Type.String({ description: 'containerd config_path: the certs.d directory holding hosts.toml files' }),
  trust: Type.String({ description: 'how certs.d/<upstream>/hosts.toml got there (ag-registry trust, or left to it)' }),
});

/** The `nodeprep` section: owned by ag-nodeprep. Describes the last host (or --root tree) it ran on. */
export const NodeprepSection = Type.Object({
  /** `/` for the host itself; another directory for a chroot, an image being built or a test. */
  root: Type.String(),
  hostname: Type.Optional(Type.String()),
  os: Type.Object({
    id: Type.String(),
    version: Type.String(),
    family: Type.String({ description: 'fedora, rhel, debian or ubuntu' }),
    name: Type.Optional(Type.String()),
    init: Type.Optional(Type.String({ description: 'systemd, or what else was found' })),
  }),
  /** The verb that wrote the section. */
  mode: Type.Optional(Type.Union([Type.Literal('plan'), Type.Literal('apply'), Type.Literal('check')])),
  /** Every step in order, and the ones skipped with --skip. */
  steps: Type.Optional(Type.Array(Type.String())),
  skipped: Type.Array(Type.String()),
  actions: Type.Array(NodeAction),
  /** How many actions changed something (0 on a re-run). */
  changes: Type.Integer({ minimum: 0 }),
  /** Where apply kept the previous versions of the files it changed (under the root). */
  backupDir: Type.Optional(Type.String()),
  containerd: Type.Optional(NodeprepContainerd),
  /**
   * The nameserver file the kubelet must give pods (KubeletConfiguration
   * `resolvConf`): a plain file naming the site's own resolvers, so that a
   * running systemd-resolved never points pods at a resolver outside the site.
   */
  dns: Type.Optional(
    Type.Object({
      resolvConf: Type.String({ description: 'absolute path on the node of the resolv.conf the kubelet uses' }),
      nameservers: Type.Optional(Type.Array(Type.String(), { description: 'the site resolvers that file names' })),
      source: Type.Optional(
        Type.String({ description: 'where the nameservers came from: --nameserver, /etc/resolv.conf, DNS= in resolved.conf, or systemd-resolved\'s current list' }),
      ),
    }),
  ),
  plannedAt: Type.Optional(Timestamp),
  appliedAt: Type.Optional(Timestamp),
  checkedAt: Type.Optional(Timestamp),
});
export type NodeprepSection = Static<typeof NodeprepSection>;
