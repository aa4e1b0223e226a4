import { formatBytes, type AgDocument, type DownloadDryRun, type Logger } from '@ag/core';
import { plannedDownloads } from './download.js';
import type { Mirrors } from './mirrors.js';
import { planOsPackagesDownload } from './os-packages/download-plan.js';

export interface DownloadDryRunOptions {
  /** The bundle root download would write to (absolute). */
  root: string;
  mirrors: Mirrors;
  /** Plan the OS packages too (false with --no-os-packages). */
  osPackages: boolean;
  /** The private apt/dnf state (--packages-cache), default ~/.cache/ag/os-packages. */
  cacheDir?: string | undefined;
  env: Record<string, string | undefined>;
  log: Logger;
  now?: Date;
}

/**
 * `ag-fetch download --dry-run`: the document passes through with what
 * download would do recorded in `fetch.dryRun` (and said on stderr), so the
 * next stage of a dry-run pipeline reads a document as it always does. It
 * fetches nothing, asks no server, runs neither apt nor dnf, and writes
 * neither the bundle nor the package cache: a file is `verify-present` when
 * it is already at its path, `fetch` otherwise; the OS packages are named
 * with the repositories they would be resolved against, their closure being
 * something only the archive's indexes can tell.
 */
export function downloadDryRun(document: AgDocument, options: DownloadDryRunOptions): AgDocument {
  const { log } = options;
  const files = plannedDownloads(document, { root: options.root, mirrors: options.mirrors });
  const toFetch = files.filter((f) => f.action === 'fetch');
  const bytes = toFetch.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const unknownSizes = toFetch.filter((f) => f.size === undefined).length;
  for (const file of files) {
    log.info(`would ${file.action === 'fetch' ? `fetch ${file.path} from ${file.url}` : `verify ${file.path} (already present)`}${file.size !== undefined ? ` (${formatBytes(file.size)})` : ''}`);
  }
  const section = options.osPackages ? document.packages : undefined;
  let osPackages: DownloadDryRun['osPackages'];
  if (section !== undefined && section.requested.length > 0) {
    const plan = planOsPackagesDownload(section, options.env, options.cacheDir);
    const sources = plan.sources.map((s) => `${s.uri}${s.suite !== undefined ? ` ${s.suite}` : ''}`);
    osPackages = { os: plan.os, architectures: plan.architectures, requested: plan.requested, sources, cache: plan.cache, repository: plan.repository };
    log.info(
      `would resolve the closure of ${plan.requested.join(', ')} for ${plan.os} (${plan.architectures.join(', ')}) against ${sources.join(', ')}, ` +
        `with private state in ${plan.cache}, into ${plan.repository}/`,
    );
    for (const command of plan.commands) log.info(`would run: ${command.argv.join(' ')}`);
  }
  log.info(
    `dry run: ${toFetch.length} of ${files.length} files to fetch (${formatBytes(bytes)}${unknownSizes > 0 ? ` and ${unknownSizes} of unknown size` : ''}), ` +
      `${files.length - toFetch.length} present to verify${osPackages ? '; OS packages to resolve' : ''}; nothing fetched, nothing written`,
  );
  const dryRun: DownloadDryRun = { at: (options.now ?? new Date()).toISOString(), root: options.root, files, bytes, unknownSizes, ...(osPackages ? { osPackages } : {}) };
  return { ...document, fetch: { ...document.fetch!, dryRun } };
}
