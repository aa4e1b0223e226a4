import { UsageError } from './errors.js';
import type { RegistryTarget } from './registry-target.js';

/**
 * An image reference, normalised the way Docker and containerd read one:
 * `pause:3.9` is `docker.io/library/pause:3.9`; a first path component that
 * has a dot or a colon, or is `localhost`, names the registry.
 * Grammar: distribution/reference (reference.go).
 */
export interface ImageReference {
  /** The registry host as people write it (`docker.io`, `registry.k8s.io`, `127.0.0.1:5000`). */
  registry: string;
  /** The repository path within that registry (`library/pause`, `coredns/coredns`). */
  repository: string;
  tag?: string;
  /** `sha256:<hex>` */
  digest?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

export const DOCKER_HUB = 'docker.io';

/** Parses and normalises a reference; throws a UsageError naming what is wrong. */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (text === '') throw new UsageError('empty image reference');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw new UsageError(`image reference ${JSON.stringify(input)}: digest must be sha256:<64 hex digits>`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw new UsageError(`image reference ${JSON.stringify(input)}: invalid tag ${JSON.stringify(tag)}`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) throw new UsageError(`image reference ${JSON.stringify(input)}: invalid registry host ${JSON.stringify(registry)}`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const part of parts) {
    if (!PATH_COMPONENT.test(part)) {
      throw new UsageError(
        `image reference ${JSON.stringify(input)}: invalid repository component ${JSON.stringify(part)} (lower case letters, digits and . _ - only)`,
      );
    }
  }
  const reference: ImageReference = { registry, repository: parts.join('/') };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  if (tag === undefined && digest === undefined) reference.tag = 'latest';
  return reference;
}

/** `registry/repository[:tag][@digest]`, always fully qualified. */
export function formatReference(ref: ImageReference): string {
  let text = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) text += `:${ref.tag}`;
  if (ref.digest !== undefined) text += `@${ref.digest}`;
  return text;
}

/** The canonical string of any reference (`pause:3.9` -> `docker.io/library/pause:3.9`). */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}

/**
 * The first path component an upstream registry becomes in the internal
 * registry: its host, lower case, with `:port` written `_port`
 * (`registry.k8s.io` stays, `registry.corp:5000` -> `registry.corp_5000`).
 * A repository name may hold no colon (distribution-spec, "Pulling
 * manifests": `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/…)*`), and a host name
 * holds no underscore (RFC 1123; distribution/reference's domain grammar),
 * so the mapping is one-to-one. An IPv6 address has no such spelling and is
 * refused.
 */
export function upstreamPathComponent(registry: string): string {
  const host = registry.toLowerCase();
  if (host.startsWith('[')) {
    throw new UsageError(`the upstream registry ${registry} is an IPv6 address, which has no name in the internal registry`, {
      hint: 'pull it by a DNS name (or an IPv4 address) for that registry instead',
    });
  }
  const component = host.replace(/:(\d+)$/, '_$1');
  if (!PATH_COMPONENT.test(component)) throw new UsageError(`the upstream registry ${JSON.stringify(registry)} has no name in the internal registry`);
  return component;
}

/**
 * Where an upstream image lives in the internal registry: the upstream host
 * becomes the first path component under the target's prefix
 * (`registry.k8s.io/pause:3.9` -> `<host>/registry.k8s.io/pause:3.9`, or
 * `<host>/<prefix>/registry.k8s.io/pause:3.9` for a registry that keeps
 * images under a project or repository; `registry.corp:5000/team/app:1` ->
 * `<host>/registry.corp_5000/team/app:1`, see upstreamPathComponent), which
 * is what the containerd `hosts.toml` mirror ag-registry trust writes
 * (`override_path = true`) asks for. A string target is a bare `HOST[:PORT]`.
 */
export function internalReference(ref: ImageReference, target: RegistryTarget | string): ImageReference {
  const { host, prefix } = typeof target === 'string' ? { host: target, prefix: undefined } : target;
  const path = `${upstreamPathComponent(ref.registry)}/${ref.repository}`;
  const internal: ImageReference = { registry: host, repository: prefix === undefined ? path : `${prefix}/${path}` };
  if (ref.tag !== undefined) internal.tag = ref.tag;
  if (ref.digest !== undefined) internal.digest = ref.digest;
  return internal;
}

/** The host to contact for a registry name (Docker Hub's API lives elsewhere). */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}
