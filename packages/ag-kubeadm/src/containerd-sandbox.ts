import { readFile } from 'node:fs/promises';
import { parse } from 'smol-toml';
import { UsageError } from '@ag/core';

export interface SandboxSetting {
  /** The configured sandbox image, or undefined when the config leaves containerd's built-in default. */
  image: string | undefined;
  /** Where it was read (or looked for). */
  key: string;
  /** Config schema version (2: containerd 1.6/1.7, 3: containerd 2.x). */
  version: number;
  /** runc's `SystemdCgroup` option when the config sets it: the cgroup driver containerd uses. */
  systemdCgroup?: boolean;
}

/**
 * The sandbox (pause) image containerd's config.toml sets: version 2 (1.6/1.7)
 * `plugins."io.containerd.grpc.v1.cri".sandbox_image`, version 3 (2.x)
 * `plugins."io.containerd.cri.v1.images".pinned_images.sandbox`; and runc's
 * `SystemdCgroup` under `…containerd.runtimes.runc.options` of
 * `io.containerd.grpc.v1.cri` (v2) or `io.containerd.cri.v1.runtime` (v3)
 * (containerd's docs/cri/config.md).
 */
export function sandboxSetting(tomlText: string): SandboxSetting {
  let config: Record<string, unknown>;
  try {
    config = parse(tomlText) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`containerd's config is not valid TOML: ${(error as Error).message}`);
  }
  const version = typeof config['version'] === 'number' ? config['version'] : 1;
  const plugins = (config['plugins'] ?? {}) as Record<string, unknown>;
  const get = (...path: string[]): unknown => path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), plugins);
  const runtime = version >= 3 ? 'io.containerd.cri.v1.runtime' : 'io.containerd.grpc.v1.cri';
  const systemd = get(runtime, 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup');
  const cgroup = typeof systemd === 'boolean' ? { systemdCgroup: systemd } : {};
  if (version >= 3) {
    const image = get('io.containerd.cri.v1.images', 'pinned_images', 'sandbox');
    return { image: typeof image === 'string' ? image : undefined, key: 'plugins."io.containerd.cri.v1.images".pinned_images.sandbox', version, ...cgroup };
  }
  const image = get('io.containerd.grpc.v1.cri', 'sandbox_image');
  return { image: typeof image === 'string' ? image : undefined, key: 'plugins."io.containerd.grpc.v1.cri".sandbox_image', version, ...cgroup };
}

/** Reads `path`; undefined when containerd has no config file there. */
export async function readSandboxSetting(path: string): Promise<SandboxSetting | undefined> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  return text === undefined ? undefined : sandboxSetting(text);
}
