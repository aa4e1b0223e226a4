import { UsageError } from './errors.js';

/**
 * Where ag puts images and where nodes pull them from: a registry host and,
 * for registries that keep images under a path the site chooses (a Harbor
 * project, an Artifactory repository key, a Nexus repository), that path.
 * Images then live at `<host>/<prefix>/<upstream host>/<path>`.
 */
export interface RegistryTarget {
  /** `HOST[:PORT]` as clients address it. */
  host: string;
  /** Path components under which ag's names start (`k8s`, `platform/k8s`); undefined at the registry's root. */
  prefix?: string;
}

const HOST_PORT = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/;
/** A repository path component (distribution-spec, "Pulling manifests"). */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * Parses `HOST[:PORT][/PREFIX]` as given to `--registry` (or kept in a
 * document): no scheme, each prefix component lower case as a repository
 * name requires. A trailing slash is dropped. Throws a UsageError naming the
 * flag and what is wrong.
 */
export function parseRegistryTarget(value: string, flag = '--registry'): RegistryTarget {
  const text = value.trim().replace(/\/+$/, '');
  const example = 'for example --registry registry.internal:5000, or --registry harbor.example/k8s for a Harbor project k8s';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} has a scheme: it is HOST[:PORT][/PREFIX]`, { hint: `${example} (always HTTPS; --plain-http where a tool has it)` });
  }
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  const prefix = slash < 0 ? undefined : text.slice(slash + 1);
  const port = HOST_PORT.exec(host)?.[1];
  if (host === '' || !HOST_PORT.test(host) || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw new UsageError(`${flag} ${JSON.stringify(value)}: ${JSON.stringify(host)} is not HOST[:PORT]`, { hint: example });
  }
  if (prefix === undefined) return { host };
  const bad = prefix.split('/').find((component) => !PATH_COMPONENT.test(component));
  if (bad !== undefined) {
    throw new UsageError(
      `${flag} ${JSON.stringify(value)}: the path ${JSON.stringify(prefix)} has the component ${JSON.stringify(bad)}, which no repository name may hold (lower case letters, digits and . _ - only)`,
      { hint: `name the project or repository as the registry spells it in image names; ${example}` },
    );
  }
  return { host, prefix };
}

/** `HOST[:PORT][/PREFIX]`: how a target is written in flags, documents and logs. */
export function formatRegistryTarget(target: RegistryTarget): string {
  return target.prefix === undefined ? target.host : `${target.host}/${target.prefix}`;
}

/** Whether two targets name the same place (host case-insensitively). */
export function sameRegistryTarget(a: RegistryTarget, b: RegistryTarget): boolean {
  return a.host.toLowerCase() === b.host.toLowerCase() && (a.prefix ?? '') === (b.prefix ?? '');
}

/** The target a document's registry section names (`endpoint` and `prefix`), if it names one. */
export function registryTargetOf(section: { endpoint?: string; prefix?: string } | undefined): RegistryTarget | undefined {
  if (section?.endpoint === undefined) return undefined;
  return section.prefix === undefined ? { host: section.endpoint } : { host: section.endpoint, prefix: section.prefix };
}
