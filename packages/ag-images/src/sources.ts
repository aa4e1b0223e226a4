import { UsageError, upstreamPathComponent, type ImageReference } from '@ag/core';

/**
 * Where to fetch an upstream image from instead of its own registry: a
 * pull-through cache, a registry that ag-images push filled, or a test
 * registry standing in for registry.k8s.io. The image keeps its upstream name
 * in the layout; only the host (and path prefix) contacted changes.
 */
export interface MirrorRule {
  /** The upstream registry this rule is for (`registry.k8s.io`), or `*` for every one. */
  upstream: string;
  /** The registry to contact (`127.0.0.1:5000`). */
  host: string;
  /**
   * The path prefix there. For `*` rules without one, the upstream host is the
   * prefix (`HOST/registry.k8s.io/pause`, `HOST/registry.corp_5000/app`), the
   * layout ag-images push writes.
   */
  prefix: string | undefined;
}

/**
 * Parses `--mirror` values: `UPSTREAM=HOST[:PORT][/PREFIX]` for one upstream,
 * or `HOST[:PORT][/PREFIX]` for every upstream.
 */
export function parseMirror(text: string): MirrorRule {
  const eq = text.indexOf('=');
  const upstream = eq >= 0 ? text.slice(0, eq).trim() : '*';
  const target = (eq >= 0 ? text.slice(eq + 1) : text).trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const slash = target.indexOf('/');
  const host = slash >= 0 ? target.slice(0, slash) : target;
  const prefix = slash >= 0 ? target.slice(slash + 1) : undefined;
  if (host === '' || upstream === '' || /\s/.test(text)) {
    throw new UsageError(`--mirror ${JSON.stringify(text)} is not UPSTREAM=HOST[:PORT][/PREFIX] or HOST[:PORT][/PREFIX]`, {
      hint: 'for example --mirror registry.k8s.io=mirror.example:5000 or --mirror 10.0.0.5:5000',
    });
  }
  return { upstream, host, prefix };
}

/** Where an upstream reference is fetched from, after mirror rules (the first rule for its registry wins, then `*`). */
export function sourceFor(ref: ImageReference, mirrors: readonly MirrorRule[]): { registry: string; repository: string } {
  const rule = mirrors.find((m) => m.upstream === ref.registry) ?? mirrors.find((m) => m.upstream === '*');
  if (rule === undefined) return { registry: ref.registry, repository: ref.repository };
  const prefix = rule.prefix ?? (rule.upstream === '*' ? upstreamPathComponent(ref.registry) : '');
  return { registry: rule.host, repository: prefix === '' ? ref.repository : `${prefix}/${ref.repository}` };
}
