import { UsageError } from '../errors.js';
import { MIRROR_SYNTAX } from './vocabulary.js';

/**
 * One `--mirror` value, the same syntax in ag-fetch (files) and ag-images
 * (images): `UPSTREAM=TARGET` sends one upstream host to TARGET, a bare
 * `TARGET` sends every upstream to `TARGET/<upstream host>/…` (one internal
 * server with a directory per upstream, which ag-images push also writes).
 * TARGET is `[http[s]://]HOST[:PORT][/PATH]`.
 */
export interface MirrorFlag {
  /** The upstream host (`registry.k8s.io`, `dl.k8s.io`), lower case, or `*` for every upstream. */
  upstream: string;
  /** `http` or `https` when TARGET named one, else undefined (ag-fetch then uses https; ag-images follows --plain-http). */
  scheme: 'http' | 'https' | undefined;
  /** HOST[:PORT] of the mirror. */
  host: string;
  /** The path under it, without slashes at either end; undefined when none. */
  path: string | undefined;
}

/** Parses one `--mirror` value (see MirrorFlag); exit 2 with the syntax when it is not one. */
export function parseMirrorFlag(text: string): MirrorFlag {
  const fail = (why: string): never => {
    throw new UsageError(`--mirror ${JSON.stringify(text)}: ${why}`, {
      hint: `--mirror takes ${MIRROR_SYNTAX}; e.g. --mirror registry.k8s.io=mirror.example:5000 or --mirror https://mirror.example`,
    });
  };
  if (/\s/.test(text)) fail('contains a space');
  // UPSTREAM= is a host (and port): nothing before the = holds a slash, so a URL's query is never taken for one.
  const assignment = /^([^/=]*)=(.*)$/.exec(text);
  const upstream = assignment === null ? '*' : assignment[1]!.toLowerCase();
  if (upstream === '') fail('the upstream before = is empty');
  let target = assignment === null ? text : assignment[2]!;
  let scheme: MirrorFlag['scheme'];
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(target);
  if (schemeMatch !== null) {
    const named = schemeMatch[1]!.toLowerCase();
    if (named !== 'http' && named !== 'https') fail(`only http and https mirrors are supported, not ${named}`);
    scheme = named as 'http' | 'https';
    target = target.slice(schemeMatch[0].length);
  }
  target = target.replace(/\/+$/, '');
  const slash = target.indexOf('/');
  const host = slash >= 0 ? target.slice(0, slash) : target;
  const path = slash >= 0 ? target.slice(slash + 1).replace(/^\/+/, '') : undefined;
  if (host === '') fail('no mirror host');
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(:\d{1,5})?$/i.test(host)) fail(`${JSON.stringify(host)} is not HOST[:PORT]`);
  return { upstream, scheme, host, path: path === '' ? undefined : path };
}
