import { link, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import {
  MissingError,
  OciLayout,
  sha256File,
  silentLogger,
  tempPathFor,
  walkImages,
  withContext,
  type AcceptedFinding,
  type Descriptor,
  type Logger,
  type ScanFinding,
  type ScannedItem,
  type ScanSection,
} from '@ag/core';
import { layoutDirs } from './layouts.js';
import { SBOM_FILE } from './sbom.js';
import { GENERATED_FILES } from './sums.js';
import { walkRoot } from './walk.js';

/** What the gate scans: every file of the root outside its image layouts, and every image. */
export interface ScanTarget {
  kind: 'file' | 'image';
  name: string;
  digest: string;
  /** The file (kind file), or the layout dir and the image's index.json entry (kind image). */
  source: string;
  descriptor?: Descriptor;
}

/** ag's own files are not scanned: the tools come from this build, the rest pack writes. */
function scannedPath(path: string): boolean {
  return !path.startsWith('tools/') && path !== SBOM_FILE;
}

/**
 * Lists what the gate covers in a bundle root: each file outside the image
 * layouts (with its sha256, computed unless `known` has it) and each named
 * image of each layout (by its index.json digest).
 */
export async function scanTargets(root: string, known?: Map<string, string>): Promise<ScanTarget[]> {
  const { files } = await walkRoot(root, [...GENERATED_FILES, SBOM_FILE]);
  const layouts = layoutDirs(files.map((file) => file.path));
  const inLayout = (path: string): boolean => layouts.some((dir) => dir === '' || path.startsWith(`${dir}/`));
  const targets: ScanTarget[] = [];
  for (const file of files) {
    if (inLayout(file.path) || !scannedPath(file.path)) continue;
    const sha = known?.get(file.path) ?? (await sha256File(file.source)).sha256;
    targets.push({ kind: 'file', name: file.path, digest: `sha256:${sha}`, source: file.source });
  }
  for (const dir of layouts) {
    const source = dir === '' ? root : join(root, dir);
    const layout = await OciLayout.open(source).catch((error: unknown) => {
      throw withContext(`reading the image layout ${dir || '.'}`, error);
    });
    for (const entry of await layout.entries()) {
      const name = entry.descriptor.annotations?.['io.containerd.image.name'] ?? entry.ref ?? entry.descriptor.digest;
      targets.push({ kind: 'image', name, digest: entry.descriptor.digest, source, descriptor: entry.descriptor });
    }
  }
  return targets;
}

/**
 * One image as an OCI layout of its own, the way scanners read one (trivy
 * --input, grype oci-dir:, clamscan -r): index.json naming only it, its
 * blobs hard-linked from the bundle's layout (copied where a link is
 * refused). Next to the root, under a temporary name; the caller removes it.
 */
async function exposeImage(target: ScanTarget, near: string): Promise<string> {
  const dir = tempPathFor(join(dirname(near), `${basename(near)}-scan`));
  const from = await OciLayout.open(target.source);
  const graph = await walkImages(from, [target.descriptor!]);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const digest of graph.descriptors.keys()) {
    if ((await from.blobSize(digest)) === undefined) continue;
    const hex = digest.slice('sha256:'.length);
    const source = join(target.source, 'blobs', 'sha256', hex);
    const destination = join(dir, 'blobs', 'sha256', hex);
    await link(source, destination).catch(() => copyFile(source, destination));
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [target.descriptor] }));
  return dir;
}

/** Findings in a scanner's JSON: `{findings: [{id}]}` (ag's own form), trivy's `Results[].Vulnerabilities[]`, grype's `matches[]`. */
export function findingsInJson(text: string): ScanFinding[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const v = value as {
    findings?: { id?: unknown; detail?: unknown }[];
    Results?: { Target?: string; Vulnerabilities?: { VulnerabilityID?: string; PkgName?: string }[] }[];
    matches?: { vulnerability?: { id?: string }; artifact?: { name?: string } }[];
  };
  if (Array.isArray(v.findings)) return v.findings.filter((f) => typeof f.id === 'string').map((f) => ({ id: f.id as string, ...(typeof f.detail === 'string' ? { detail: f.detail } : {}) }));
  if (Array.isArray(v.Results)) {
    return v.Results.flatMap((result) => (result.Vulnerabilities ?? []).filter((f) => f.VulnerabilityID !== undefined).map((f) => ({ id: f.VulnerabilityID!, ...(f.PkgName === undefined ? {} : { detail: f.PkgName }) })));
  }
  if (Array.isArray(v.matches)) {
    return v.matches.filter((m) => m.vulnerability?.id !== undefined).map((m) => ({ id: m.vulnerability!.id!, ...(m.artifact?.name === undefined ? {} : { detail: m.artifact.name }) }));
  }
  return undefined;
}

/** clamscan's `PATH: NAME FOUND` lines (clamscan(1)): the signature names. */
function findingsInText(text: string): ScanFinding[] {
  const found: ScanFinding[] = [];
  for (const line of text.split('\n')) {
    const match = /^(.*): (\S+) FOUND$/.exec(line.trim());
    if (match !== null) found.push({ id: match[2]!, detail: basename(match[1]!) });
  }
  return found;
}

export interface ScanOptions {
  root: string;
  /** The scanner command: the item's path is appended, or put where `{}` is. */
  command: string;
  /** Read the scanner's stdout as JSON (else: exit 0 clean, 1 found, other error). */
  json?: boolean;
  /** The database version to record, when the scanner's `--version` does not say it. */
  databaseVersion?: string;
  /** Earlier results, kept for items and scanners this run does not redo. */
  previous?: ScanSection;
  log?: Logger;
}

/** The scanner's `--version` line, and the database version in it when it has one (ClamAV: `ClamAV 1.0.7/27480/Tue …`). */
async function scannerIdentity(command: string): Promise<{ scanner: string; database: string | undefined }> {
  const program = command.trim().split(/\s+/)[0]!;
  const result = await execa('sh', ['-c', `${program} --version`], { reject: false, stdin: 'ignore', timeout: 60_000 });
  const line = String(result.stdout).split('\n')[0]?.trim() ?? '';
  if (result.exitCode !== 0 || line === '') return { scanner: command, database: undefined };
  const parts = line.split('/');
  return { scanner: `${command} (${parts[0]})`, database: parts.length >= 3 ? `${parts[1]} (${parts.slice(2).join('/')})` : undefined };
}

/**
 * Runs the operator's scanner over every file and every image of a bundle
 * root (see scanTargets) and records, per item, the scanner, its database
 * version and the result. An image is handed over as an OCI layout of its
 * own. The scanner's verdict is its exit code (0 clean, 1 found: clamscan's
 * and most scanners' convention) or, with `json`, the findings its JSON
 * lists. Reads the root only.
 */
export async function scanRoot(options: ScanOptions): Promise<{ section: ScanSection; items: ScannedItem[] }> {
  const log = options.log ?? silentLogger;
  const { scanner, database: reported } = await scannerIdentity(options.command);
  const database = options.databaseVersion ?? reported;
  const targets = await scanTargets(options.root);
  const items: ScannedItem[] = [];
  for (const target of targets) {
    const path = target.kind === 'image' ? await exposeImage(target, options.root) : target.source;
    try {
      const script = options.command.includes('{}') ? options.command.replaceAll('{}', '"$1"') : `${options.command} "$1"`;
      const result = await execa('sh', ['-c', script, 'sh', path], { reject: false, stdin: 'ignore', all: true });
      const output = String(result.stdout);
      let findings: ScanFinding[] = [];
      let outcome: ScannedItem['result'];
      if (options.json) {
        const parsed = findingsInJson(output);
        findings = parsed ?? [];
        outcome = parsed === undefined ? 'error' : findings.length > 0 ? 'found' : result.exitCode === 0 ? 'clean' : 'error';
      } else {
        outcome = result.exitCode === 0 ? 'clean' : result.exitCode === 1 ? 'found' : 'error';
        if (outcome === 'found') {
          findings = findingsInText(output);
          if (findings.length === 0) findings = [{ id: `${options.command.trim().split(/\s+/)[0]}:exit-1` }];
        }
      }
      if (outcome === 'error') findings = [{ id: 'scanner-error', detail: `exit ${result.exitCode}: ${String(result.all ?? '').trim().split('\n').slice(-3).join(' | ')}` }];
      items.push({
        kind: target.kind,
        name: target.name,
        digest: target.digest,
        scanner,
        ...(database === undefined ? {} : { database }),
        result: outcome,
        ...(findings.length === 0 ? {} : { findings }),
        scannedAt: new Date().toISOString(),
      });
      if (outcome !== 'clean') log.warn(`${target.name}: ${outcome === 'found' ? `found ${findings.map((f) => f.id).join(', ')}` : `the scanner failed (${findings[0]!.detail})`}`);
    } finally {
      if (target.kind === 'image') await rm(path, { recursive: true, force: true });
    }
  }
  const redone = new Set(items.map((item) => `${item.kind}\u0000${item.name}\u0000${item.scanner}`));
  const kept = (options.previous?.items ?? []).filter((item) => !redone.has(`${item.kind}\u0000${item.name}\u0000${item.scanner}`));
  return { section: { items: [...kept, ...items] }, items };
}

/**
 * The gate pack applies with --require-scan: each item must have been
 * scanned as it is now (same digest), by every scanner that scanned it,
 * without an error, and each finding must be accepted (`accept`, with a
 * reason). Refuses (exit 5) naming every item that fails; returns the
 * accepted findings, to record in the bundle.
 */
export function checkScanGate(targets: Omit<ScanTarget, 'source'>[], scan: ScanSection | undefined, accept: { id: string; reason: string }[]): AcceptedFinding[] {
  const problems: string[] = [];
  const accepted = new Map<string, AcceptedFinding>();
  const reasons = new Map(accept.map((entry) => [entry.id, entry.reason]));
  for (const target of targets) {
    const records = (scan?.items ?? []).filter((item) => item.kind === target.kind && item.name === target.name && item.digest === target.digest);
    if (records.length === 0) {
      const stale = (scan?.items ?? []).some((item) => item.kind === target.kind && item.name === target.name);
      problems.push(`${target.name}: ${stale ? 'changed since it was scanned' : 'not scanned'}`);
      continue;
    }
    for (const record of records) {
      if (record.result === 'error') {
        problems.push(`${target.name}: ${record.scanner} failed on it (${record.findings?.[0]?.detail ?? 'no detail'})`);
        continue;
      }
      for (const finding of record.findings ?? []) {
        const reason = reasons.get(finding.id);
        if (reason === undefined) {
          problems.push(`${target.name}: ${finding.id} found by ${record.scanner}, not accepted`);
          continue;
        }
        const entry = accepted.get(finding.id) ?? { id: finding.id, items: [], reason, acceptedAt: new Date().toISOString() };
        if (!entry.items.includes(target.name)) entry.items.push(target.name);
        accepted.set(finding.id, entry);
      }
    }
  }
  if (problems.length > 0) {
    throw new MissingError(`--require-scan: ${problems.length} item(s) may not cross: ${problems.join('; ')}`, {
      hint: 'scan them with ag-bundle scan --with CMD (and pipe its document into pack), or accept a finding explicitly with --accept ID --reason TEXT; nothing was written',
      details: { problems },
    });
  }
  return [...accepted.values()];
}
