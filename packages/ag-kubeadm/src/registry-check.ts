import { readFile } from 'node:fs/promises';
import { internalReference, parseReference, RegistryClient, withContext, type Io, type RegistrySection } from '@ag/core';

/** `<internal>/<upstream host>/<path>`: the repository and reference a node's pull of `ref` asks the internal registry for. */
export function internalLocation(ref: string, endpoint: string): { repository: string; reference: string } {
  const parsed = parseReference(ref);
  const inside = parsed.registry === endpoint ? parsed : internalReference(parsed, endpoint);
  return { repository: inside.repository, reference: inside.digest ?? inside.tag ?? 'latest' };
}

export interface InternalRegistry {
  endpoint: string;
  /** Whether the registry holds `ref` (under its upstream host prefix unless it names the registry itself). */
  has(ref: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A client for the internal registry the document's registry section names,
 * trusting its CA and using ag-registry's credentials file
 * (`username:password`); undefined while the registry is not up. Paths are
 * node paths, mapped through `pathOnHost` (the host root).
 */
export async function internalRegistry(
  registry: RegistrySection | undefined,
  pathOnHost: (p: string) => string,
  env: Io['env'],
): Promise<InternalRegistry | undefined> {
  if (registry?.endpoint === undefined) return undefined;
  const endpoint = registry.endpoint;
  let credentials: { username: string; password: string; source: string } | undefined;
  if (registry.credentialsFile !== undefined) {
    const path = pathOnHost(registry.credentialsFile);
    const line = (await readFile(path, 'utf8').catch((e: unknown) => {
      throw withContext(`reading the registry credentials ${path}`, e);
    }))
      .split('\n')[0]!
      .trim();
    const colon = line.indexOf(':');
    if (colon > 0) credentials = { username: line.slice(0, colon), password: line.slice(colon + 1), source: path };
  }
  const client = new RegistryClient({
    registry: endpoint,
    caFiles: [pathOnHost(registry.caFile)],
    certsDirs: [],
    credentials,
    lookupCredentials: false,
    env,
    retry: { retries: 1 },
  });
  return {
    endpoint,
    async has(ref) {
      const { repository, reference } = internalLocation(ref, endpoint);
      return (await client.headManifest(repository, reference)) !== undefined;
    },
    close: () => client.close(),
  };
}
