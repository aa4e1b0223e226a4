import {
  credentialsForTarget,
  formatRegistryTarget,
  internalReference,
  parseReference,
  RegistryClient,
  registryTargetOf,
  type Io,
  type RegistrySection,
  type RegistryTarget,
} from '@ag/core';

/**
 * `<internal>[/<prefix>]/<upstream host>/<path>`: the repository and reference a node's pull of `ref` asks the
 * internal registry for. A reference that already names the registry's host is taken as it is.
 */
export function internalLocation(ref: string, target: RegistryTarget): { repository: string; reference: string } {
  const parsed = parseReference(ref);
  const inside = parsed.registry === target.host ? parsed : internalReference(parsed, target);
  return { repository: inside.repository, reference: inside.digest ?? inside.tag ?? 'latest' };
}

export interface InternalRegistry {
  /** `HOST[:PORT][/PREFIX]`, for messages. */
  endpoint: string;
  /** Whether the registry holds `ref` (under its upstream host prefix unless it names the registry itself). */
  has(ref: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A client for the internal registry the document's registry section names
 * (under its prefix, for a registry the site runs), trusting its CA (or the
 * system trust store when it names none) and using its credentials file
 * (`username:password`), else the node's auth files; undefined while the
 * registry is not up. Paths are node paths, mapped through `pathOnHost` (the
 * host root).
 */
export async function internalRegistry(
  registry: RegistrySection | undefined,
  pathOnHost: (p: string) => string,
  env: Io['env'],
): Promise<InternalRegistry | undefined> {
  const target = registryTargetOf(registry);
  if (target === undefined) return undefined;
  const file = registry?.credentialsFile === undefined ? undefined : pathOnHost(registry.credentialsFile);
  const credentials = await credentialsForTarget(target, file === undefined ? {} : { credentialsFile: { path: file, source: `the registry credentials ${file}` } }, env);
  const client = new RegistryClient({
    registry: target.host,
    ...(registry?.caFile !== undefined ? { caFiles: [pathOnHost(registry.caFile)] } : {}),
    certsDirs: [],
    ...(credentials !== undefined ? { credentials } : {}),
    lookupCredentials: false,
    env,
    retry: { retries: 1 },
  });
  return {
    endpoint: formatRegistryTarget(target),
    async has(ref) {
      const { repository, reference } = internalLocation(ref, target);
      return (await client.headManifest(repository, reference)) !== undefined;
    },
    close: () => client.close(),
  };
}
