import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UsageError, type CarriedPackage, type ExcludedPackage, type PackageSource, type PackagesBaseline, type PackagesSection } from '@ag/core';
import { inventoryOs, prepareAptBaseline, readInventory, type AptBaseline, type BaselineInput } from './apt-baseline.js';
import { checkLocalAptRepository } from './apt-local-check.js';
import { downloadAptClosure, resolveAptClosure, type ResolvedDeb } from './apt-resolve.js';
import { aptRun, aptSources, prepareAptState, requireKeyrings, updateAptIndexes } from './apt-state.js';
import { copyVerified } from './copy-verified.js';
import { refuseUnsupportedContainerd } from './containerd-check.js';
import { parseStanzas } from './deb822.js';
import { writeDebRepository, type DebRepositoryEntry } from './deb-repository.js';
import type { OsPackagesDownloadOptions } from './download-options.js';
import type { OsRelease } from './os-releases.js';

/** The architecture a status file or inventory describes (the far side's native one). */
async function baselineArchitecture(input: BaselineInput): Promise<string | undefined> {
  if (input.kind === 'inventory') return (await readInventory(input.file)).arch;
  if (input.kind === 'status') {
    const text = await readFile(input.file, 'utf8');
    const dpkg = parseStanzas(text).find((s) => s.get('Package') === 'dpkg');
    return dpkg?.get('Architecture');
  }
  return undefined;
}

function poolPath(deb: ResolvedDeb): string {
  return `pool/${basename(deb.filename)}`;
}

/**
 * The deb half of `ag-fetch download`: for each architecture, resolves the
 * closure of the requested packages against the release's signed archive in
 * a private apt tree, downloads it, copies every .deb into the bundle's
 * repository verified against the signed index, writes the repository's
 * Packages and Release, and proves with a second private apt (knowing only
 * that repository) that the closure installs on the baseline. The baseline
 * (status file or inventory) applies to the architecture it was taken on;
 * other architectures are resolved against a minimal install.
 */
export async function downloadDebPackages(release: OsRelease, section: PackagesSection, options: OsPackagesDownloadOptions): Promise<PackagesSection> {
  const { log } = options;
  const baselineArch = await baselineArchitecture(options.baseline);
  if (options.baseline.kind === 'inventory') {
    const inventory = await readInventory(options.baseline.file);
    if (inventoryOs(inventory) !== release.os) {
      throw new UsageError(`the inventory ${options.baseline.file} is of ${inventoryOs(inventory)}, but the packages are for ${release.os}`);
    }
  }
  if (baselineArch !== undefined && !section.architectures.includes(baselineArch)) {
    throw new UsageError(`the baseline ${options.baseline.kind === 'minimal' || options.baseline.kind === 'empty' ? '' : options.baseline.file} is of architecture ${baselineArch}, which the plan does not carry (${section.architectures.join(', ')})`);
  }
  const sources: PackageSource[] = [];
  const closure = new Map<string, { carried: CarriedPackage; entry: DebRepositoryEntry; file: string | undefined }>();
  const excluded: ExcludedPackage[] = [];
  const baselines: Array<{ arch: string; baseline: AptBaseline; record: PackagesBaseline }> = [];
  const runs: Array<() => Promise<void>> = [];
  try {
    for (const arch of section.architectures) {
      const what = `${release.os}/${arch}`;
      const archSources = aptSources(release, arch);
      await requireKeyrings(archSources, release);
      const state = await prepareAptState(join(options.cacheDir, `${release.os}-${arch}`), arch, archSources);
      sources.push(...archSources.filter((s) => !sources.some((t) => t.uri === s.uri && t.suite === s.suite)));
      log.info(`${what}: updating package indexes from ${[...new Set(archSources.map((s) => s.uri))].join(', ')} (signatures checked)`);
      await updateAptIndexes(state, options, what);
      const run = await aptRun(state);
      runs.push(run.done);
      const input: BaselineInput = baselineArch === undefined || baselineArch === arch ? options.baseline : { kind: 'minimal' };
      const baseline = await prepareAptBaseline(state, options, release, input, run.dir);
      baselines.push({ arch, baseline, record: baseline.record });
      const resolved = await resolveAptClosure(state, options, baseline, section.requested, run.dir);
      refuseUnsupportedContainerd(options.kubernetesVersion, [...resolved.packages, ...resolved.excluded], what);
      if (resolved.removals.length > 0) {
        log.warn(`${what}: installing these packages would remove ${resolved.removals.join(', ')} from a host like the baseline`);
      }
      excluded.push(...resolved.excluded);
      const bytes = resolved.packages.reduce((sum, p) => sum + p.size, 0);
      log.info(
        `${what}: ${resolved.packages.length} packages (${(bytes / 1e6).toFixed(1)} MB) to carry; ${resolved.excluded.length} left out as ${baseline.record.kind === 'minimal' ? 'a minimal install' : `the ${baseline.record.kind} baseline`} has them`,
      );
      const files = options.dryRun ? new Map<ResolvedDeb, string>() : await downloadAptClosure(state, options, baseline, section.requested, resolved.packages);
      for (const deb of resolved.packages) {
        const path = poolPath(deb);
        if (closure.has(path)) continue; // an arch:all package needed by two architectures
        closure.set(path, {
          carried: { name: deb.name, version: deb.version, arch: deb.arch, path: `${options.repoPath}/${path}`, sha256: deb.sha256, size: deb.size },
          entry: { record: deb.record, path },
          file: files.get(deb),
        });
      }
    }
    if (!options.dryRun) {
      let copied = 0;
      for (const [path, item] of closure) {
        if (await copyVerified(item.file as string, join(options.repoDir, path), item.carried, `copying ${item.carried.name} into the bundle`)) copied++;
      }
      const wanted = new Set([...closure.keys()].map((p) => basename(p)));
      const stale = (await readdir(join(options.repoDir, 'pool')).catch(() => [] as string[])).filter((f) => f.endsWith('.deb') && !wanted.has(f));
      for (const file of stale) await rm(join(options.repoDir, 'pool', file), { force: true });
      if (stale.length > 0) log.info(`removed ${stale.length} packages of an earlier closure from the bundle: ${stale.join(', ')}`);
      await writeDebRepository(options.repoDir, [...closure.values()].map((c) => c.entry), options.now);
      log.info(`${options.repoPath}: ${closure.size} packages (${copied} copied, ${closure.size - copied} already there), Packages and Release written`);
      for (const { arch, baseline } of baselines) {
        const checked = await checkLocalAptRepository(options.repoDir, arch, baseline.status, section.requested, join(options.cacheDir, `check-${process.pid}-${arch}`), options);
        log.info(`${release.os}/${arch}: the bundle's repository alone installs ${section.requested.length} requested packages (${checked.installs.length} in all) on the baseline`);
      }
    }
  } finally {
    for (const done of runs) await done();
  }
  const main = baselines.find((b) => b.arch === baselineArch) ?? baselines[0];
  const record = main?.record ?? { kind: 'minimal' as const, detail: 'none', packages: 0 };
  return {
    ...section,
    sources,
    baseline: baselines.length > 1 && options.baseline.kind !== 'minimal' ? { ...record, detail: `${record.detail} (for ${baselineArch}; other architectures: a minimal install)` } : record,
    repository: options.repoPath,
    closure: [...closure.values()].map((c) => c.carried).sort((a, b) => a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch)),
    excluded: dedupe(excluded),
    resolvedAt: options.now.toISOString(),
  };
}

function dedupe(excluded: readonly ExcludedPackage[]): ExcludedPackage[] {
  const seen = new Map<string, ExcludedPackage>();
  for (const e of excluded) seen.set(`${e.name}:${e.arch ?? ''}`, e);
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
}
