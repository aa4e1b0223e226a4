import { parseMirrorFlag, upstreamPathComponent, type ImageReference } from '@ag/core';

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
 * Parses a `--mirror` value, core's one syntax (parseMirrorFlag):
 * `UPSTREAM=HOST[:PORT][/PREFIX]` for one upstream, or `HOST[:PORT][/PREFIX]`
 * for every upstream. A scheme is accepted and does not choose TLS: --plain-http does.
 */
export function parseMirror(text: string): MirrorRule {
  const { upstream, host, path } = parseMirrorFlag(text);
  return { upstream, host, prefix: path };
}

/** Where an upstream reference is fetched from, after mirror rules (the first rule for its registry wins, then `*`). */
export function sourceFor(ref: ImageReference, mirrors: readonly MirrorRule[]): { registry: string; repository: string } {
  const rule = mirrors.find((m) => m.upstream === ref.registry) ?? mirrors.find((m) => m.upstream === '*');
  if (rule === undefined) return { registry: ref.registry, repository: ref.repository };
  const prefix = rule.prefix ?? (rule.upstream === '*' ? upstreamPathComponent(ref.registry) : '');
  return { registry: rule.host, repository: prefix === '' ? ref.repository : `${prefix}/${ref.repository}` };
}
