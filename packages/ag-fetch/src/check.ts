import { access, stat } from 'node:fs/promises';
import {
  formatBytes,
  freeBytes,
  proxySettingsFromEnv,
  redactUrl,
  requestFollowingRedirects,
  resolveInRoot,
  roomFor,
  settleWithLimit,
  statusError,
  toAgError,
  UsageError,
  whichProgram,
  type AgDocument,
  type FileArtifact,
  type PackageSource,
} from '@ag/core';
import type { Dispatcher } from 'undici';
import { urlFor } from './download.js';
import type { Mirrors } from './mirrors.js';
import { planOsPackagesDownload } from './os-packages/download-plan.js';

/** One line of `ag-fetch check`: what was looked at, and whether download has what it needs there. */
export interface CheckLine {
  item: 'proxy' | 'reach' | 'space' | 'tools';
  ok: boolean;
  text: string;
}

export interface ConnectedCheckOptions {
  /** The bundle root download writes to (absolute). */
  root: string;
  mirrors: Mirrors;
  /** Sent with every HEAD, as download sends them (credentials for a mirror). */
  headers?: Record<string, string>;
  dispatcher: Dispatcher;
  env: Record<string, string | undefined>;
  /** Check what the OS packages need too (false with --no-os-packages). */
  osPackages: boolean;
  cacheDir?: string | undefined;
  /** How long one HEAD may take. Default 15 s. */
  timeoutMs?: number;
}

interface Probe {
  url: string;
  /** What it stands for: a file of the plan, or a package repository. */
  what: string;
  file?: FileArtifact;
}

interface Answer {
  status?: number;
  length?: number;
  error?: string;
}

/**
 * One HEAD, given up after the timeout. Raced, not only aborted: undici's
 * proxy agent does not honour the abort signal while its CONNECT tunnel is
 * being set up, so a proxy that drops the connection without an answer
 * would hold the check forever (the CLI destroys the dispatcher after).
 */
async function head(probe: Probe, options: ConnectedCheckOptions): Promise<Answer> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const givenUp = new Promise<Answer>((resolve) => {
    timer = setTimeout(() => resolve({ error: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
  });
  try {
    return await Promise.race([ask(probe, options, timeoutMs), givenUp]);
  } finally {
    clearTimeout(timer);
  }
}

async function ask(probe: Probe, options: ConnectedCheckOptions, timeoutMs: number): Promise<Answer> {
  try {
    const response = await requestFollowingRedirects(probe.url, {
      method: 'HEAD',
      dispatcher: options.dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
      ...(options.headers ? { headers: options.headers } : {}),
    });
    await response.body.dump();
    const length = Number(response.headers['content-length']);
    return { status: response.statusCode, ...(Number.isFinite(length) && response.statusCode < 300 ? { length } : {}) };
  } catch (error) {
    const agError = toAgError(error);
    const cause = (agError.cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    return { error: cause?.code ?? cause?.message ?? agError.message };
  }
}

const origin = (url: string): string => new URL(url).origin;

/** The URL that says a package repository is there: apt's InRelease, dnf's repomd.xml, or the metalink. */
function repositoryProbe(source: PackageSource): Probe | undefined {
  if (!/^https?:\/\//.test(source.uri)) return undefined; // RHEL's subscribed repositories: dnf's own business
  if (source.suite !== undefined) return { url: `${source.uri.replace(/\/+$/, '')}/dists/${source.suite}/InRelease`, what: `the ${source.name} package repository` };
  if (source.uri.includes('metalink')) return { url: source.uri, what: `the ${source.name} package repository (metalink)` };
  return { url: `${source.uri.replace(/\/?$/, '/')}repodata/repomd.xml`, what: `the ${source.name} package repository` };
}

async function sizeOnDisk(path: string): Promise<number | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? info.size : undefined;
}

function proxyLine(env: Record<string, string | undefined>): CheckLine {
  const proxy = proxySettingsFromEnv(env);
  const parts = [
    proxy.httpsProxy !== undefined ? `HTTPS_PROXY=${redactUrl(proxy.httpsProxy)}` : 'HTTPS_PROXY unset',
    proxy.httpProxy !== undefined ? `HTTP_PROXY=${redactUrl(proxy.httpProxy)}` : 'HTTP_PROXY unset',
    proxy.noProxy !== undefined ? `NO_PROXY=${proxy.noProxy}` : 'NO_PROXY unset',
  ];
  const direct = proxy.httpProxy === undefined && proxy.httpsProxy === undefined;
  return { item: 'proxy', ok: true, text: `${parts.join(', ')}${direct ? ': connecting directly' : ': the checks below went through it, as download will'}` };
}

/**
 * `ag-fetch check`: before a long download, whether this machine has what
 * the plan needs, one line each: the proxy settings seen; every upstream
 * host reachable (a HEAD through the mirrors and proxies in effect: of each
 * file whose size the plan does not know, else of one file per host; and of
 * each OS package repository); the free space for what will be fetched
 * (sizes from the plan, else Content-Length); the programs and keyrings
 * the OS package path runs (apt-get, apt-cache; dnf, rpmkeys, rpm,
 * createrepo_c). Changes nothing.
 */
export async function checkConnectedSide(document: AgDocument, options: ConnectedCheckOptions): Promise<CheckLine[]> {
  if (document.fetch === undefined) throw new UsageError('the document has no fetch section: nothing to check', { hint: 'start the pipeline with ag-fetch plan' });
  const files = document.fetch.files;
  const lines: CheckLine[] = [proxyLine(options.env)];

  const packages = options.osPackages && document.packages !== undefined && document.packages.requested.length > 0 ? planOsPackagesDownload(document.packages, options.env, options.cacheDir) : undefined;
  const probes: Probe[] = [];
  const hosts = new Set<string>();
  for (const file of files) {
    const url = urlFor(file, options.mirrors);
    if (file.size === undefined || !hosts.has(origin(url))) probes.push({ url, what: file.path, file });
    hosts.add(origin(url));
  }
  for (const source of packages?.sources ?? []) {
    const probe = repositoryProbe(source);
    if (probe !== undefined && !probes.some((p) => p.url === probe.url)) probes.push(probe);
  }
  const answers = await settleWithLimit(probes, 4, (probe) => head(probe, options));
  const byOrigin = new Map<string, { probe: Probe; answer: Answer }[]>();
  probes.forEach((probe, i) => {
    const settled = answers[i]!;
    const answer = settled.status === 'fulfilled' ? settled.value : { error: String(settled.reason) };
    byOrigin.set(origin(probe.url), [...(byOrigin.get(origin(probe.url)) ?? []), { probe, answer }]);
  });
  for (const [host, results] of byOrigin) {
    const failed = results.filter((r) => r.answer.error !== undefined || (r.answer.status ?? 0) >= 400);
    const upstreams = [...new Set(results.flatMap((r) => (r.probe.file?.source.upstreamUrl !== undefined ? [new URL(r.probe.file.source.upstreamUrl).host] : [])))];
    const label = `${host}${upstreams.length > 0 ? ` (for ${upstreams.join(', ')})` : ''}`;
    if (failed.length === 0) {
      lines.push({ item: 'reach', ok: true, text: `${label}: HEAD ${results.length === 1 ? results[0]!.probe.url : `of ${results.length} URLs`} answered ${[...new Set(results.map((r) => r.answer.status))].join(', ')}` });
      continue;
    }
    // One reason per line part: "no answer within 15 s for 3 URLs, e.g. …" rather than the same failure three times.
    const reasons = new Map<string, Probe[]>();
    for (const r of failed) {
      const reason = r.answer.error ?? statusError(r.probe.url, { statusCode: r.answer.status!, headers: {} }).message.replace(`${r.probe.url}: `, '');
      reasons.set(reason, [...(reasons.get(reason) ?? []), r.probe]);
    }
    const why = [...reasons].map(([reason, probes]) => `${reason} for ${probes.length === 1 ? `${probes[0]!.what} (${probes[0]!.url})` : `${probes.length} URLs, e.g. ${probes[0]!.url}`}`);
    lines.push({ item: 'reach', ok: false, text: `${label}: ${why.join('; ')}` });
  }

  let bytes = 0;
  let unknown = 0;
  let count = 0;
  for (const [i, probe] of probes.entries()) {
    if (probe.file === undefined) continue;
    const settled = answers[i]!;
    const size = probe.file.size ?? (settled.status === 'fulfilled' ? settled.value.length : undefined);
    if ((await sizeOnDisk(resolveInRoot(options.root, probe.file.path))) === size && size !== undefined) continue;
    count += 1;
    if (size === undefined) unknown += 1;
    else bytes += size;
  }
  for (const file of files) {
    // Files with a known size that needed no HEAD.
    if (probes.some((p) => p.file === file)) continue;
    if ((await sizeOnDisk(resolveInRoot(options.root, file.path))) === file.size) continue;
    count += 1;
    bytes += file.size!;
  }
  const free = await freeBytes(options.root);
  const needed = roomFor(bytes);
  const extra = [
    ...(unknown > 0 ? [`${unknown} of unknown size`] : []),
    ...(packages !== undefined ? [`and the OS packages, whose size is known once resolved, with apt/dnf state in ${packages.cache}`] : []),
  ];
  lines.push({
    item: 'space',
    ok: free >= needed,
    text: `${formatBytes(free)} free under ${options.root}; the plan fetches ${formatBytes(bytes)} in ${count} file(s)${extra.length > 0 ? ` (${extra.join('; ')})` : ''}${free >= needed ? '' : `: ${formatBytes(needed)} are needed`}`,
  });

  if (packages !== undefined) {
    const missing: string[] = [];
    for (const program of packages.programs) if ((await whichProgram(program, options.env)) === undefined) missing.push(program);
    for (const keyring of packages.keyrings) if (!(await access(keyring).then(() => true, () => false))) missing.push(keyring);
    const found = [...packages.programs, ...packages.keyrings].filter((p) => !missing.includes(p));
    lines.push({
      item: 'tools',
      ok: missing.length === 0,
      text:
        missing.length === 0
          ? `${packages.os} packages: ${found.join(', ')} found`
          : `${packages.os} packages need ${missing.join(', ')}, not found${found.length > 0 ? ` (found: ${found.join(', ')})` : ''}`,
    });
  }
  return lines;
}
