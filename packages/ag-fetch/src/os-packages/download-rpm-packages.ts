import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  fetchText,
  formatCommand,
  MissingError,
  runProgram,
  sha256File,
  UsageError,
  VerificationError,
  whichProgram,
  writeFileAtomic,
  type CarriedPackage,
  type ExcludedPackage,
  type PackageInventory,
  type PackagesBaseline,
  type PackagesSection,
} from '@ag/core';
import { readInventory } from './apt-baseline.js';
import type { OsPackagesContext } from './apt-state.js';
import { createrepoCommand, importKeyCommand, planDnfDownload, verifyCommand, type DnfDownloadPlan, type PlannedCommand } from './dnf-plan.js';
import { copyVerified } from './copy-verified.js';
import type { OsPackagesDownloadOptions } from './download-options.js';
import type { OsRelease } from './os-releases.js';
import { refuseUnsupportedContainerd } from './containerd-check.js';

/** How to run the rpm half where dnf is: a container of the release. */
export function dnfContainerHint(release: OsRelease): string {
  const image = release.family === 'fedora' ? `registry.fedoraproject.org/fedora:${release.releasever}` : 'registry.access.redhat.com/ubi9 (with the subscription\'s entitlements mounted)';
  return (
    `run ag-fetch download where dnf, dnf-plugins-core and createrepo_c exist: a container of the release is enough, e.g. ` +
    `podman run --rm -v "$PWD:/work" -w /work ${image} sh -c "dnf -y install dnf-plugins-core createrepo_c nodejs && ` +
    `node packages/ag-fetch/dist/ag-fetch.mjs download < plan.json > fetched.json" (README, "OS packages")`
  );
}

async function run(command: PlannedCommand, context: OsPackagesContext): Promise<string> {
  context.log.debug(`${formatCommand(command.argv[0], command.argv.slice(1))}  # ${command.why}`);
  const result = await runProgram(command.argv[0], command.argv.slice(1), { env: { ...context.io.env, LC_ALL: 'C' }, stderr: context.io.stderr, streamStderr: context.log.level === 'debug' });
  return result.stdout;
}

async function requirePrograms(context: OsPackagesContext, release: OsRelease): Promise<void> {
  const missing: string[] = [];
  for (const program of ['dnf', 'rpmkeys', 'rpm', 'createrepo_c']) if ((await whichProgram(program, context.io.env)) === undefined) missing.push(program);
  if (missing.length > 0) {
    throw new MissingError(`resolving rpm packages needs ${missing.join(', ')}, not on this host's PATH`, { hint: dnfContainerHint(release) });
  }
}

/** Key files for rpmkeys: local paths as they are, https keys fetched into the state directory. */
async function keyFiles(plan: DnfDownloadPlan): Promise<string[]> {
  const files: string[] = [];
  for (const [i, key] of plan.keys.entries()) {
    if (key.startsWith('file://')) files.push(key.slice('file://'.length));
    else {
      const file = join(plan.stateDir, 'keys', `key-${i}.asc`);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, await fetchText(key));
      files.push(file);
    }
  }
  return files;
}

const RHEL_REBUILDS = new Set(['rhel', 'centos', 'rocky', 'almalinux', 'ol']);

/** Whether an inventory was taken on this rpm release (same family, same major version). */
export function sameRpmRelease(inventory: PackageInventory, release: OsRelease): boolean {
  if (inventory.format !== 'rpm') return false;
  const family = RHEL_REBUILDS.has(inventory.os.id) ? 'rhel' : inventory.os.id;
  const major = (version: string): string => version.split('.')[0] ?? '';
  return family === release.family && major(inventory.os.versionId) === major(release.releasever ?? '');
}

interface RpmHeader {
  name: string;
  version: string;
  arch: string;
  file: string;
}

async function readHeaders(files: readonly string[], context: OsPackagesContext): Promise<RpmHeader[]> {
  if (files.length === 0) return [];
  const out = await run({ argv: ['rpm', '-qp', '--nosignature', '--qf', '%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n', ...files], why: 'read name, version and arch' }, context);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line, i) => {
      const [name = '', evr = '', arch = ''] = line.split('\t');
      return { name, version: evr.replace(/^0:/, ''), arch, file: files[i] as string };
    });
}

/**
 * The rpm half of `ag-fetch download`, with dnf: per architecture, a
 * private install root resolves and downloads the closure, every package's
 * signature is checked with rpmkeys against the repositories' keys, and
 * createrepo_c writes repodata. Without an inventory the closure is
 * everything the packages need on an empty host (dnf --alldeps); with one,
 * packages the far side has at exactly the same version are left out.
 * Needs dnf (a container of the release; see DNF_CONTAINER_HINT).
 */
export async function downloadRpmPackages(release: OsRelease, section: PackagesSection, options: OsPackagesDownloadOptions): Promise<PackagesSection> {
  if (options.baseline.kind === 'status') throw new UsageError('a dpkg status baseline does not apply to rpm packages; give an inventory (ag-nodeprep inventory)');
  const inventory = options.baseline.kind === 'inventory' ? await readInventory(options.baseline.file) : undefined;
  if (inventory !== undefined && !sameRpmRelease(inventory, release)) {
    throw new UsageError(`the inventory ${(options.baseline as { file: string }).file} is of ${inventory.os.id}-${inventory.os.versionId} (${inventory.format}), not ${release.os}`);
  }
  const have = new Map((inventory?.packages ?? []).map((p) => [`${p.name}.${p.arch}`, p.version.replace(/^0:/, '')]));
  const plans = section.architectures.map((arch) => planDnfDownload(release, section, arch, join(options.cacheDir, `${release.os}-${arch}`), options.repoDir));
  if (options.dryRun) {
    for (const plan of plans) for (const c of plan.commands) options.log.info(`would run: ${formatCommand(c.argv[0], c.argv.slice(1))}`);
    return { ...section, sources: plans.flatMap((p) => p.sources), repository: options.repoPath };
  }
  await requirePrograms(options, release);
  const closure: CarriedPackage[] = [];
  const excluded: ExcludedPackage[] = [];
  const keys = new Map<string, string>();
  for (const plan of plans) {
    for (const [name, content] of Object.entries(plan.files)) {
      await mkdir(dirname(join(plan.stateDir, name)), { recursive: true });
      await writeFile(join(plan.stateDir, name), content);
    }
    await mkdir(plan.installRoot, { recursive: true });
    // A fresh staging directory: nothing reaches the bundle before its signature is checked.
    await rm(plan.destDir, { recursive: true, force: true });
    for (const key of await keyFiles(plan)) {
      await run(importKeyCommand(plan, key), options);
      keys.set(key, `keys/key-${keys.size + 1}.asc`);
    }
    for (const command of plan.commands) await run(command, options);
    const files = (await readdir(plan.destDir)).filter((f) => f.endsWith('.rpm')).map((f) => join(plan.destDir, f));
    const checked = await runProgram(verifyCommand(plan, files).argv[0], verifyCommand(plan, files).argv.slice(1), {
      env: { ...options.io.env, LC_ALL: 'C' },
      stderr: options.io.stderr,
      allowFailure: true,
      streamStderr: false,
    });
    const bad = checked.stdout.split('\n').filter((l) => l.trim() !== '' && !/: digests signatures OK$/.test(l));
    if (checked.exitCode !== 0 || bad.length > 0) {
      throw new VerificationError(`rpm signature check failed for ${plan.arch}:\n${bad.slice(0, 10).join('\n')}`, {
        hint: 'the packages are not signed by the keys in the document\'s packages.sources; nothing was carried',
      });
    }
    const headers = await readHeaders(files, options);
    refuseUnsupportedContainerd(options.kubernetesVersion, headers, `${release.os}/${plan.arch}`);
    for (const header of headers) {
      const name = header.file.slice(plan.destDir.length + 1);
      const path = `${options.repoPath}/pool/${name}`;
      if (have.get(`${header.name}.${header.arch}`) === header.version) {
        excluded.push({ name: header.name, version: header.version, arch: header.arch });
        continue;
      }
      if (closure.some((c) => c.path === path)) continue;
      const expected = await sha256File(header.file);
      await copyVerified(header.file, join(options.repoDir, 'pool', name), expected, `copying ${header.name} into the bundle`);
      closure.push({ name: header.name, version: header.version, arch: header.arch, path, ...expected });
    }
  }
  const wanted = new Set(closure.map((c) => c.path.slice(`${options.repoPath}/pool/`.length)));
  for (const file of (await readdir(join(options.repoDir, 'pool')).catch(() => [] as string[])).filter((f) => f.endsWith('.rpm') && !wanted.has(f))) {
    await rm(join(options.repoDir, 'pool', file), { force: true });
  }
  for (const [from, to] of keys) {
    await mkdir(dirname(join(options.repoDir, to)), { recursive: true });
    await writeFileAtomic(join(options.repoDir, to), await readFile(from));
  }
  await run(createrepoCommand(options.repoDir), options);
  const baseline: PackagesBaseline =
    inventory === undefined
      ? { kind: 'empty', detail: 'no inventory: every dependency is carried (dnf --alldeps); the far side installs only what it lacks', packages: 0 }
      : { kind: 'inventory', detail: (options.baseline as { file: string }).file, packages: inventory.packages.length };
  return {
    ...section,
    sources: plans.flatMap((p) => p.sources),
    baseline,
    repository: options.repoPath,
    closure: closure.sort((a, b) => a.name.localeCompare(b.name)),
    keys: [...keys.values()].map((k) => `${options.repoPath}/${k}`),
    excluded,
    resolvedAt: options.now.toISOString(),
  };
}
