import { sha256File, type AgDocument } from '@ag/core';
import type { BundleInput } from '../input.js';
import type { InspectReport } from '../inspect.js';
import type { Ledger, LedgerEntry } from '../ledger.js';

/** Everything the approver's page states, gathered once: the HTML and the Markdown render the same figures. */
export interface ReportFigures {
  bundle: string;
  id: string | undefined;
  site: string | undefined;
  builtOn: string[];
  packedAt: string | undefined;
  /** What crosses: the archive (or the joined parts) as read. */
  archiveBytes: number;
  archiveSha256: string | undefined;
  parts: { file: string; size: number; sha256: string }[];
  entries: number;
  signed: boolean;
  signatureAlgorithm: string | undefined;
  keyFingerprint: string | undefined;
  /** Carried in the archive, per top-level directory. */
  categories: { name: string; files: number; bytes: number }[];
  /** Listed but left for the far side to supply (a delta). */
  reused: { files: number; bytes: number } | undefined;
  files: { name: string; version: string | undefined; url: string; sha256: string | undefined; licence: string | undefined }[];
  images: { ref: string; digest: string; platforms: string[] }[];
  packages: { name: string; version: string; arch: string }[];
  packageSources: string[];
  /** Against the site's previous bundle, from its ledger. */
  changes: { previous: string; added: string[]; changed: string[]; removed: string[] } | undefined;
  scan:
    | {
        items: number;
        clean: number;
        flagged: { name: string; scanner: string; result: string; findings: string[] }[];
        scanners: string[];
        accepted: { id: string; items: string[]; reason: string }[];
        required: boolean;
      }
    | undefined;
}

/** The licences the SBOM states, by component name. */
function licencesIn(sbom: string | undefined): Map<string, string> {
  const found = new Map<string, string>();
  if (sbom === undefined) return found;
  try {
    const bom = JSON.parse(sbom) as { components?: { name: string; licenses?: { license?: { id?: string; name?: string } }[] }[] };
    for (const component of bom.components ?? []) {
      const licence = component.licenses?.[0]?.license;
      const text = licence?.id ?? licence?.name;
      if (text !== undefined) found.set(component.name, text);
    }
  } catch {
    // No readable SBOM: no licences to show.
  }
  return found;
}

/** What changed from the site's previous bundle to this one: files added, changed (other bytes) and removed. */
export function changesSince(previous: LedgerEntry, current: LedgerEntry): NonNullable<ReportFigures['changes']> {
  const before = new Map(previous.members.map((member) => [member.path, member.sha256]));
  const after = new Map(current.members.map((member) => [member.path, member.sha256]));
  const skip = (path: string): boolean => path === 'bundle.json' || path === 'sbom.cdx.json';
  return {
    previous: previous.id,
    added: [...after.keys()].filter((path) => !skip(path) && !before.has(path)).sort(),
    changed: [...after.entries()].filter(([path, sha]) => !skip(path) && before.has(path) && before.get(path) !== sha).map(([path]) => path).sort(),
    removed: [...before.keys()].filter((path) => !skip(path) && !after.has(path)).sort(),
  };
}

export async function gatherFigures(input: BundleInput, report: InspectReport, ledger: Ledger | undefined): Promise<ReportFigures> {
  const document: AgDocument = report.document!;
  const bundle = document.bundle!;
  const licences = licencesIn(report.sbom);
  const site = bundle.site;
  const current = site === undefined ? undefined : ledger?.entries.find((entry) => entry.id === site.id);
  const previous = current === undefined ? undefined : ledger?.entries.find((entry) => entry.sequence === current.sequence - 1);
  const scanItems = document.scan?.items ?? [];
  const flagged = scanItems.filter((item) => item.result !== 'clean');
  return {
    bundle: bundle.file,
    id: site?.id,
    site: site?.name,
    builtOn: (site?.builtOn ?? []).map((ref) => ref.id),
    packedAt: bundle.packedAt,
    archiveBytes: report.archiveBytes,
    archiveSha256: input.kind === 'file' ? (await sha256File(input.path)).sha256 : input.kind === 'parts' ? input.list.sha256 : undefined,
    parts: input.kind === 'parts' ? input.list.parts : [],
    entries: report.entries,
    signed: report.signed,
    signatureAlgorithm: bundle.signatureAlgorithm,
    keyFingerprint: bundle.keyFingerprint,
    categories: Object.entries(report.categories)
      .map(([name, value]) => ({ name, files: value.files, bytes: value.bytes }))
      .sort((a, b) => b.bytes - a.bytes),
    reused: bundle.delta === undefined ? undefined : { files: bundle.delta.reused.length, bytes: bundle.delta.reusedBytes },
    files: (document.fetch?.files ?? []).map((file) => ({
      name: file.name,
      version: file.version,
      url: file.source.upstreamUrl ?? file.source.url,
      sha256: file.sha256,
      licence: licences.get(file.name),
    })),
    images: (document.images?.images ?? []).map((image) => ({ ref: image.ref, digest: image.digest, platforms: image.manifests.map((manifest) => manifest.platform) })),
    packages: (document.packages?.closure ?? []).map((pkg) => ({ name: pkg.name, version: pkg.version, arch: pkg.arch })),
    packageSources: (document.packages?.sources ?? []).map((source) => `${source.uri}${source.suite === undefined ? '' : ` ${source.suite}`}`),
    changes: current !== undefined && previous !== undefined ? changesSince(previous, current) : undefined,
    scan:
      scanItems.length === 0 && bundle.scanGate === undefined
        ? undefined
        : {
            items: scanItems.length,
            clean: scanItems.length - flagged.length,
            flagged: flagged.map((item) => ({ name: item.name, scanner: item.scanner, result: item.result, findings: (item.findings ?? []).map((finding) => finding.id) })),
            scanners: [...new Set(scanItems.map((item) => `${item.scanner}${item.database === undefined ? '' : `, database ${item.database}`}`))],
            accepted: (bundle.scanGate?.accepted ?? []).map(({ id, items, reason }) => ({ id, items, reason })),
            required: bundle.scanGate !== undefined,
          },
  };
}
