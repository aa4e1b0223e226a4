import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatRegistryTarget, parseReference, parseRegistryTarget, UsageError, withContext, writeFileAtomic, type AgDocument, type Logger } from '@ag/core';
import { readCredentials, type Credentials } from './credentials.js';
import { readOptional } from './files.js';
import { DEFAULT_UPSTREAMS, mirrorUrl, renderMirrorHostsToml, renderRegistriesConf, renderRegistryHostsToml } from './hosts-toml.js';

export interface TrustOptions {
  /** The internal registry, `HOST[:PORT][/PREFIX]`: with a prefix, its images are at `<host>/<prefix>/<upstream host>/<path>`. */
  endpoint: string;
  /** Its CA certificate (PEM) on this host; none: the system trust store vouches for it. */
  caFile?: string;
  /** `username:password` file (0600): containerd then sends the credentials on every pull (hosts.toml header). */
  credentialsFile?: string;
  /** Credentials found elsewhere (`--username`, an auth file), used when there is no credentialsFile. */
  credentials?: Credentials;
  /** Upstream registries to mirror (DEFAULT_UPSTREAMS are always included). */
  upstreams?: string[];
  /** Write under this root instead of / (a node image, a chroot, a test). */
  root?: string;
  /** containerd's certs.d (default <root>/etc/containerd/certs.d). */
  certsDir?: string;
  /** Write docker's CA file; default: when <root>/etc/docker exists. */
  docker?: boolean;
  /** Write podman's CA file and registries.conf.d mirrors; default: when <root>/etc/containers exists. */
  podman?: boolean;
  dryRun?: boolean;
  log: Logger;
}

export interface TrustFile {
  path: string;
  mode: string;
  action: 'written' | 'unchanged' | 'planned';
  why: string;
}

export interface TrustResult {
  files: TrustFile[];
  upstreams: string[];
}

/** Upstream registries named by the document: its images and the images the plan lists. */
export function documentUpstreams(document: AgDocument | undefined): string[] {
  const refs = [...(document?.images?.images ?? []).map((image) => image.ref), ...(document?.fetch?.images ?? []).map((image) => image.ref)];
  const hosts = new Set<string>();
  for (const ref of refs) {
    try {
      hosts.add(parseReference(ref).registry);
    } catch {
      // A malformed reference is the owning stage's error, not trust's.
    }
  }
  return [...hosts];
}

/**
 * An upstream host as an image reference may spell it: the domain of
 * distribution's reference grammar (reference/regexp.go, domainNameComponent)
 * allows capitals, and containerd looks up `certs.d/<host>` as the reference
 * spells it (core/remotes/docker/config/hosts.go, hostPaths: no case
 * folding), so `Registry.Corp:5000/team/app:1` needs its own directory. Its
 * path in the internal registry is lower case (upstreamPathComponent).
 */
const UPSTREAM = /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:\d{1,5})?$/;

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

async function readCa(path: string): Promise<string> {
  let ca: string;
  try {
    ca = await readFile(path, 'utf8');
  } catch (error) {
    throw withContext(`reading the registry CA ${path}`, error);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`${path} is not a PEM certificate`);
  return ca;
}

/**
 * Writes what a node needs to trust and use the internal registry, under
 * `root`: containerd's certs.d (the registry's CA and hosts.toml, and a
 * mirror hosts.toml for every upstream with override_path, under the
 * registry's prefix when it keeps images under one), docker's and
 * podman's CA where they are present, podman's mirrors, and the credentials
 * for containerd's pulls as an Authorization header (those hosts.toml files
 * are then 0600). Idempotent: unchanged files are not rewritten.
 *
 * Deliberately does not touch containerd's config.toml (ag-nodeprep sets
 * config_path), and does not log docker or podman in (`docker login`).
 */
export async function trust(options: TrustOptions): Promise<TrustResult> {
  const root = resolve(options.root ?? '/');
  const target = parseRegistryTarget(options.endpoint);
  const endpoint = target.host;
  const certsDir = options.certsDir !== undefined ? resolve(options.certsDir) : join(root, 'etc', 'containerd', 'certs.d');
  const upstreams = [...new Set([...DEFAULT_UPSTREAMS, ...(options.upstreams ?? [])])].filter((host) => host.toLowerCase() !== endpoint.toLowerCase());
  for (const host of upstreams) {
    if (!UPSTREAM.test(host)) throw new UsageError(`upstream ${JSON.stringify(host)} is not a registry host name`);
  }
  const ca = options.caFile === undefined ? undefined : await readCa(options.caFile);
  const credentials = options.credentialsFile !== undefined ? await readCredentials(options.credentialsFile) : options.credentials;
  const authorization = credentials === undefined ? undefined : `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const secretMode = authorization !== undefined ? 0o600 : 0o644;
  const prefix = target.prefix !== undefined ? { prefix: target.prefix } : {};

  const wanted: Array<{ path: string; content: string; mode: number; why: string }> = [];
  if (ca !== undefined) wanted.push({ path: join(certsDir, endpoint, 'ca.crt'), content: ca, mode: 0o644, why: 'the internal registry CA, for containerd' });
  wanted.push({
    path: join(certsDir, endpoint, 'hosts.toml'),
    content: renderRegistryHostsToml({ endpoint, ...(ca !== undefined ? { ca: 'ca.crt' } : {}), ...(authorization ? { authorization } : {}) }),
    mode: secretMode,
    why: `containerd: trust ${endpoint}${authorization ? ', with credentials' : ''}`,
  });
  for (const upstream of upstreams) {
    wanted.push({
      path: join(certsDir, upstream, 'hosts.toml'),
      // Relative to this hosts.toml's directory, so the tree works wherever it is mounted (containerd resolves it so).
      content: renderMirrorHostsToml(upstream, { endpoint, ...prefix, ...(ca !== undefined ? { ca: `../${endpoint}/ca.crt` } : {}), ...(authorization ? { authorization } : {}) }),
      mode: secretMode,
      why: `containerd: pull ${upstream}/… from ${mirrorUrl(target, upstream)}`,
    });
  }
  if (ca !== undefined && (options.docker ?? (await isDirectory(join(root, 'etc', 'docker'))))) {
    wanted.push({ path: join(root, 'etc', 'docker', 'certs.d', endpoint, 'ca.crt'), content: ca, mode: 0o644, why: 'docker: trust the registry CA' });
  }
  if (options.podman ?? (await isDirectory(join(root, 'etc', 'containers')))) {
    if (ca !== undefined) wanted.push({ path: join(root, 'etc', 'containers', 'certs.d', endpoint, 'ca.crt'), content: ca, mode: 0o644, why: 'podman, skopeo, CRI-O: trust the registry CA' });
    wanted.push({
      path: join(root, 'etc', 'containers', 'registries.conf.d', '50-ag-registry.conf'),
      content: renderRegistriesConf(target, upstreams),
      mode: 0o644,
      why: `podman, skopeo, CRI-O: mirror the upstream registries to ${formatRegistryTarget(target)}`,
    });
  }

  const files: TrustFile[] = [];
  for (const file of wanted) {
    const mode = `0${file.mode.toString(8)}`;
    if (options.dryRun) {
      files.push({ path: file.path, mode, action: 'planned', why: file.why });
      continue;
    }
    const current = await readOptional(file.path);
    const currentMode = current === undefined ? undefined : (await stat(file.path)).mode & 0o777;
    if (current === file.content && currentMode === file.mode) {
      files.push({ path: file.path, mode, action: 'unchanged', why: file.why });
      continue;
    }
    try {
      await mkdir(join(file.path, '..'), { recursive: true, mode: 0o755 });
      await writeFileAtomic(file.path, file.content, { mode: file.mode });
    } catch (error) {
      throw withContext(`writing ${file.path}`, error);
    }
    files.push({ path: file.path, mode, action: 'written', why: file.why });
  }
  const written = files.filter((f) => f.action === 'written').length;
  options.log.info(
    options.dryRun
      ? `would write ${files.length} files under ${root}`
      : written === 0
        ? `all ${files.length} trust files under ${root} are up to date; nothing to do`
        : `wrote ${written} of ${files.length} trust files under ${root} (containerd: ${certsDir})`,
  );
  return { files, upstreams };
}
