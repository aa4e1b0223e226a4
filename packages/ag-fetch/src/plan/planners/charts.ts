import { moduleExports, UsageError, withContext, type FileArtifact } from '@ag/core';
import { sourceFor } from '../../mirrors.js';
import type { PlanContext, Planner } from '../context.js';
import type { ChartRequest } from '../request.js';

interface IndexEntry {
  version?: unknown;
  urls?: unknown;
  digest?: unknown;
}

/** Finds NAME@VERSION in a Helm repository's index.yaml: its archive URL (absolute) and digest. */
export async function findInIndex(indexText: string, chart: ChartRequest, indexUrl: string): Promise<{ url: string; sha256?: string }> {
  const { parse } = moduleExports(await import('yaml'));
  let index: { entries?: Record<string, IndexEntry[] | undefined> };
  try {
    index = parse(indexText) as typeof index;
  } catch (error) {
    throw withContext(`reading ${indexUrl}`, error);
  }
  const versions = index?.entries?.[chart.name];
  if (versions === undefined) throw new UsageError(`${indexUrl} has no chart named ${chart.name}`);
  const wanted = chart.version.replace(/^v/, '');
  const entry = versions.find((e) => String(e.version).replace(/^v/, '') === wanted);
  if (entry === undefined) {
    const known = versions.slice(0, 5).map((e) => String(e.version)).join(', ');
    throw new UsageError(`${indexUrl} has no ${chart.name} ${chart.version} (newest: ${known})`);
  }
  const first = Array.isArray(entry.urls) ? entry.urls[0] : undefined;
  if (typeof first !== 'string') throw new UsageError(`${indexUrl}: ${chart.name} ${chart.version} has no download URL`);
  // Relative chart URLs are relative to the repository, as helm resolves them.
  const url = new URL(first, `${chart.repo.replace(/\/$/, '')}/`).href;
  const digest = typeof entry.digest === 'string' && /^[a-f0-9]{64}$/.test(entry.digest) ? entry.digest : undefined;
  return digest === undefined ? { url } : { url, sha256: digest };
}

async function planChart(context: PlanContext, chart: ChartRequest): Promise<FileArtifact> {
  const base: Omit<FileArtifact, 'source'> = {
    name: chart.name,
    kind: 'chart',
    version: chart.version,
    path: `files/charts/${chart.name}-${chart.version}.tgz`,
    note: `Helm chart from ${chart.repo}`,
  };
  if (!context.online) {
    // helm's own naming convention; the index would say otherwise only for unusual repositories.
    return { ...base, source: sourceFor(`${chart.repo.replace(/\/$/, '')}/${chart.name}-${chart.version}.tgz`, context.mirrors) };
  }
  const indexUrl = `${chart.repo.replace(/\/$/, '')}/index.yaml`;
  const text = (await context.fetchSmall(indexUrl, `chart ${chart.name} ${chart.version}: reading the repository index`)).toString('utf8');
  const found = await findInIndex(text, chart, indexUrl);
  return {
    ...base,
    source: sourceFor(found.url, context.mirrors),
    ...(found.sha256 === undefined ? {} : { sha256: found.sha256, sha256From: 'index' as const }),
  };
}

/** Helm charts named with --chart, pinned to the digest their repository index publishes. */
export const chartsPlanner: Planner = {
  name: 'charts',
  async plan(context) {
    return { files: await Promise.all(context.request.charts.map((chart) => planChart(context, chart))) };
  },
};
