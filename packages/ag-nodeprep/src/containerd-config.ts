import { parse, stringify, type TomlPrimitive } from 'smol-toml';

/**
 * containerd's config.toml for a kubeadm node, merged into whatever is there.
 *
 * Sources (containerd/containerd docs/cri/config.md and docs/hosts.md, main
 * at 00142976): containerd 1.6/1.7 read config `version = 2` with the CRI
 * plugin at `plugins."io.containerd.grpc.v1.cri"` (sandbox_image,
 * containerd.runtimes.runc.options.SystemdCgroup, cni, registry.config_path);
 * containerd 2.x reads `version = 3` with `plugins."io.containerd.cri.v1.images"`
 * (pinned_images.sandbox, registry.config_path) and
 * `plugins."io.containerd.cri.v1.runtime"` (containerd.runtimes.runc.options,
 * cni) — and still converts version 2, which is why version 2 is the choice
 * when the version is unknown. containerd refuses inline `registry.mirrors`
 * together with `config_path`, so they are removed (hosts.toml replaces them).
 *
 * The CNI plugin directory under version 3 is `bin_dir` for containerd 2.0
 * and `bin_dirs` (a list) from 2.1: containerd's RELEASES.md deprecation table
 * has `bin_dir` deprecated in 2.1 and removed in 2.3, and a real 2.1.9 lists
 * it in `ctr deprecations list` (the CRI's ContainerdHasNoDeprecationWarnings
 * condition turns false). Version 2 keeps `bin_dir`, which 2.x migrates.
 */

export interface ContainerdConfigOptions {
  configVersion: 2 | 3;
  sandboxImage?: string | undefined;
  systemdCgroup: boolean;
  /** The certs.d directory (`/etc/containerd/certs.d`). */
  registryConfigPath: string;
  cniBinDir: string;
  /** Write the CNI directory as `bin_dirs = [cniBinDir]` (containerd 2.1 and later), not `bin_dir`. */
  cniBinDirList: boolean;
  cniConfDir: string;
  /** SELinux left enforcing: the CRI plugin labels containers. */
  enableSelinux: boolean;
}

type Table = { [key: string]: TomlPrimitive };

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** The table at `path` inside `root`, created (or replaced, when a scalar is in the way) as needed. */
function table(root: Table, ...path: string[]): Table {
  let current = root;
  for (const key of path) {
    const next = current[key];
    if (!isTable(next)) current[key] = {};
    current = current[key] as Table;
  }
  return current;
}

/** Plugin ids that, when listed in disabled_plugins, turn the CRI off. Packaged configs ship `disabled_plugins = ["cri"]`. */
const CRI_PLUGIN_IDS = ['cri', 'io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images', 'io.containerd.cri.v1.runtime'];

export interface MergedConfig {
  text: string;
  /** What was changed in the operator's file, beyond setting our keys (for the record). */
  notes: string[];
}

export const CONTAINERD_HEADER =
  '# Written by ag-nodeprep (step containerd): CRI enabled, runc with the cgroup driver the kubelet uses,\n' +
  '# the sandbox image kubeadm expects, registries through certs.d/<host>/hosts.toml (no inline mirrors).\n' +
  '# Other settings were kept; ag-nodeprep apply rewrites the keys above.\n';

function parseCurrent(current: string | undefined, wanted: 2 | 3, notes: string[]): Table {
  if (current === undefined || current.trim() === '') return {};
  let parsed: Table;
  try {
    parsed = parse(current) as Table;
  } catch (error) {
    notes.push(`the previous config did not parse as TOML (${(error as Error).message.split('\n')[0]}); started afresh`);
    return {};
  }
  const version = typeof parsed['version'] === 'number' || typeof parsed['version'] === 'bigint' ? Number(parsed['version']) : 1;
  if (version !== wanted) {
    notes.push(`the previous config was version ${version}, not ${wanted}; started afresh (its keys live under other names)`);
    return {};
  }
  return parsed;
}

/** The config ag-nodeprep wants, merged into `current`. Deterministic: merging its own output again changes nothing. */
export function containerdConfig(current: string | undefined, options: ContainerdConfigOptions): MergedConfig {
  const notes: string[] = [];
  const config = parseCurrent(current, options.configVersion, notes);
  const merged: Table = { version: options.configVersion, ...config };
  merged['version'] = options.configVersion;

  const disabled = merged['disabled_plugins'];
  if (Array.isArray(disabled)) {
    const kept = disabled.filter((id) => !CRI_PLUGIN_IDS.includes(String(id)));
    if (kept.length !== disabled.length) notes.push(`removed ${disabled.filter((id) => !kept.includes(id)).join(', ')} from disabled_plugins (the CRI must run)`);
    merged['disabled_plugins'] = kept;
  }

  const plugins = table(merged, 'plugins');
  let images: Table;
  let runtime: Table;
  if (options.configVersion === 2) {
    const cri = table(plugins, 'io.containerd.grpc.v1.cri');
    if (options.sandboxImage !== undefined) cri['sandbox_image'] = options.sandboxImage;
    if (options.enableSelinux) cri['enable_selinux'] = true;
    images = cri;
    runtime = table(cri, 'containerd');
    Object.assign(table(cri, 'cni'), { bin_dir: options.cniBinDir, conf_dir: options.cniConfDir });
  } else {
    images = table(plugins, 'io.containerd.cri.v1.images');
    if (options.sandboxImage !== undefined) table(images, 'pinned_images')['sandbox'] = options.sandboxImage;
    const runtimePlugin = table(plugins, 'io.containerd.cri.v1.runtime');
    if (options.enableSelinux) runtimePlugin['enable_selinux'] = true;
    runtime = table(runtimePlugin, 'containerd');
    const cni = table(runtimePlugin, 'cni');
    const [kept, dropped] = options.cniBinDirList ? (['bin_dirs', 'bin_dir'] as const) : (['bin_dir', 'bin_dirs'] as const);
    if (cni[dropped] !== undefined) notes.push(`replaced cni.${dropped} by cni.${kept} (the name this containerd reads)`);
    delete cni[dropped];
    Object.assign(cni, { [kept]: options.cniBinDirList ? [options.cniBinDir] : options.cniBinDir, conf_dir: options.cniConfDir });
  }
  // runtime_type is set explicitly: a [runtimes.runc] table without it is an empty runtime in containerd 1.x.
  runtime['default_runtime_name'] = 'runc';
  const runc = table(runtime, 'runtimes', 'runc');
  runc['runtime_type'] = 'io.containerd.runc.v2';
  table(runc, 'options')['SystemdCgroup'] = options.systemdCgroup;

  const registry = table(images, 'registry');
  for (const inline of ['mirrors', 'configs']) {
    if (registry[inline] !== undefined) {
      notes.push(`removed inline registry.${inline} (containerd refuses them with config_path; certs.d/<host>/hosts.toml replaces them)`);
      delete registry[inline];
    }
  }
  registry['config_path'] = options.registryConfigPath;
  return { text: `${CONTAINERD_HEADER}\n${stringify(merged)}\n`, notes };
}

/** Reads back what a config sets, for check and tests (undefined where unset). */
export function containerdSettings(text: string): { version: number; disabled: string[]; sandboxImage?: string; systemdCgroup?: boolean; configPath?: string; mirrors: boolean } {
  const config = parse(text) as Table;
  const version = Number(config['version'] ?? 1);
  const plugins = isTable(config['plugins']) ? config['plugins'] : {};
  const get = (...path: string[]): TomlPrimitive | undefined => {
    let current: TomlPrimitive | undefined = plugins;
    for (const key of path) current = isTable(current) ? current[key] : undefined;
    return current;
  };
  const v2 = version < 3;
  const sandbox = v2 ? get('io.containerd.grpc.v1.cri', 'sandbox_image') : get('io.containerd.cri.v1.images', 'pinned_images', 'sandbox');
  const runtimeBase = v2 ? ['io.containerd.grpc.v1.cri', 'containerd'] : ['io.containerd.cri.v1.runtime', 'containerd'];
  const systemd = get(...runtimeBase, 'runtimes', 'runc', 'options', 'SystemdCgroup');
  const registryBase = v2 ? ['io.containerd.grpc.v1.cri', 'registry'] : ['io.containerd.cri.v1.images', 'registry'];
  const configPath = get(...registryBase, 'config_path');
  return {
    version,
    disabled: Array.isArray(config['disabled_plugins']) ? config['disabled_plugins'].map(String) : [],
    ...(typeof sandbox === 'string' ? { sandboxImage: sandbox } : {}),
    ...(typeof systemd === 'boolean' ? { systemdCgroup: systemd } : {}),
    ...(typeof configPath === 'string' ? { configPath } : {}),
    mirrors: get(...registryBase, 'mirrors') !== undefined,
  };
}
