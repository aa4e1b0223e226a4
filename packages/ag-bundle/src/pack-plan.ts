import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import {
  sha256File,
  silentLogger,
  VerificationError,
  withContext,
  type AgDocument,
  type BundleReused,
  type BundleSection,
  type BundleTool,
  type Logger,
  type ProgressTask,
} from '@ag/core';
import { selectReused } from './delta.js';
import type { Inventory } from './inventory.js';
import { blobHexOf, documentHashes, type HashSource } from './known-hashes.js';
import { layoutDirs, readBundleLayout } from './layouts.js';
import { DOCUMENT_FILE, GENERATED_FILES, renderSums, SIGNATURE_FILE, SUMS_FILE } from './sums.js';
import { SBOM_FILE } from './sbom.js';
import { entryBytes } from './tar/header.js';
import { absentError, absentPlanned, type AbsentItem } from './planned.js';
import { TOOLS_README, toolsReadme, type ToolFile } from './tools.js';
import { walkRoot } from './walk.js';

/** One file of the bundle, as pack will write it. */
export interface PlannedFile {
  path: string;
  /** Where its bytes are here; undefined for text pack makes (tools/README.txt). */
  source: string | undefined;
  data?: Buffer;
  size: number;
  executable: boolean;
  mtime: number;
  /** What SHA256SUMS will say; checked again as the file streams into the archive. */
  sha256: string | undefined;
  hashSource: HashSource;
  /** False for a file the far side has (delta): listed, not carried. */
  carried: boolean;
  /**
   * Set when pack hashed the file itself just now: its size and mtime then.
   * Streaming it again checks these instead of hashing it a second time.
   */
  hashedAs?: { size: number; mtimeMs: number };
}

export interface PlanOptions {
  root: string;
  document: AgDocument;
  tools: ToolFile[];
  inventory?: { inventory: Inventory; sha256: string; name: string };
  /** Compute every hash pack does not know yet (false for a dry run without an inventory). */
  hashAll: boolean;
  /**
   * A dry run: what the document plans but the root lacks (a dry-run pipeline
   * downloaded and pulled nothing) is listed in `absent`, not refused; a
   * root that does not exist yet is an empty one.
   */
  dryRun?: boolean;
  log?: Logger;
  hashProgress?: ProgressTask;
}

export interface PackPlan {
  root: string;
  files: PlannedFile[];
  layouts: string[];
  reused: BundleReused[];
  tools: BundleTool[];
  skipped: string[];
  /** What the document plans that the root lacks (a dry run only: a real pack refuses). */
  absent: AbsentItem[];
}

async function statOf(path: string): Promise<{ size: number; mtimeMs: number }> {
  const { size, mtimeMs } = await stat(path);
  return { size, mtimeMs };
}

/**
 * Decides what the bundle holds: every regular file under the root (see
 * walkRoot), the ag tools (each at its `bundlePath`, its bytes from the
 * build), with a sha256 for each — from a blob's name, from the document
 * (ag-fetch verified it), or by reading the file now — and, against an
 * inventory, which of them the far side already has. Refuses (exit 5,
 * naming each) when anything the document plans is absent (see
 * absentPlanned), and checks that every image layout is complete. Reads
 * only: neither the root nor anything else is written.
 */
export async function planPack(options: PlanOptions): Promise<PackPlan> {
  const log = options.log ?? silentLogger;
  const rootExists = await stat(options.root).then(() => true, () => false);
  const { files: found, skipped } = options.dryRun === true && !rootExists ? { files: [], skipped: [] } : await walkRoot(options.root, [...GENERATED_FILES, SBOM_FILE]);
  for (const path of skipped) log.warn(`left out ${path}: a temporary or ingest leftover, not part of a bundle`);
  const files: PlannedFile[] = found.map((file) => ({
    ...file,
    sha256: undefined,
    hashSource: 'computed',
    carried: true,
  }));

  // The ag tools, straight from the build: they replace whatever tools/ in the root held (in the archive, not in the root).
  const tools: BundleTool[] = [];
  if (options.tools.length > 0) {
    const replaced = new Set<string>();
    const now = Math.floor(Date.now() / 1000);
    for (const tool of options.tools) {
      const path = tool.bundlePath;
      const { sha256, size } = await sha256File(tool.source).catch((error: unknown) => {
        throw withContext(`reading the tool ${tool.source}`, error);
      });
      replaced.add(path);
      files.push({ path, source: tool.source, size, executable: tool.shellFile !== true, mtime: now, sha256, hashSource: 'computed', carried: true });
      tools.push({ name: tool.name, path, sha256, size, ...(tool.arch === undefined ? {} : { arch: tool.arch }), ...(tool.node === undefined ? {} : { node: tool.node }) });
    }
    const readme = Buffer.from(toolsReadme(options.tools));
    replaced.add(TOOLS_README);
    files.push({
      path: TOOLS_README,
      source: undefined,
      data: readme,
      size: readme.length,
      executable: false,
      mtime: now,
      sha256: createHash('sha256').update(readme).digest('hex'),
      hashSource: 'computed',
      carried: true,
    });
    const before = files.length;
    const kept = files.filter((file, index) => index >= found.length || !replaced.has(file.path));
    if (kept.length !== before) log.info(`${before - kept.length} file(s) of the root's tools/ are carried as this build's instead`);
    files.splice(0, files.length, ...kept);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  // Everything the document plans must be here: a bundle of a plan never downloaded would carry nothing.
  const byPath = new Map(files.map((file) => [file.path, file]));
  const layouts = layoutDirs(files.map((file) => file.path));
  const absent = await absentPlanned(options.document, options.root, new Set(byPath.keys()), layouts);
  if (absent.length > 0 && options.dryRun !== true) throw absentError(absent, options.root);

  // What the document says each file is (ag-fetch verified it when it downloaded it).
  for (const [path, known] of documentHashes(options.document)) {
    const file = byPath.get(path);
    if (file === undefined) continue;
    if (known.size !== undefined && known.size !== file.size) {
      throw new VerificationError(`${path} is ${file.size} bytes, but the document says ${known.size}`, {
        hint: 'the file changed after it was downloaded: run ag-fetch download again',
        details: { path, expectedSize: known.size, actualSize: file.size },
      });
    }
    file.sha256 = known.sha256;
    file.hashSource = 'document';
  }

  // Images: every layout must be complete; manifests and indexes are always carried.
  const manifests = new Set<string>();
  for (const layout of layouts) {
    for (const digest of (await readBundleLayout(options.root, layout)).manifests) {
      manifests.add(`${layout === '' ? '' : `${layout}/`}blobs/sha256/${digest.slice('sha256:'.length)}`);
    }
  }
  const layoutMeta = new Set(layouts.flatMap((dir) => (dir === '' ? ['index.json', 'oci-layout'] : [`${dir}/index.json`, `${dir}/oci-layout`])));
  for (const file of files) {
    const hex = blobHexOf(file.path);
    if (hex !== undefined && file.sha256 === undefined && layouts.some((dir) => file.path === `${dir === '' ? '' : `${dir}/`}blobs/sha256/${hex}`)) {
      file.sha256 = hex;
      file.hashSource = 'blob-name';
    }
  }

  if (options.hashAll || options.inventory !== undefined) {
    const unknown = files.filter((file) => file.sha256 === undefined);
    options.hashProgress?.setTotal(unknown.reduce((sum, file) => sum + file.size, 0));
    for (const file of unknown) {
      const { sha256, size } = await sha256File(file.source!).catch((error: unknown) => {
        throw withContext(`hashing ${file.path}`, error);
      });
      if (size !== file.size) throw new VerificationError(`${file.path} changed size while pack read it; is something still writing into ${options.root}?`);
      file.sha256 = sha256;
      file.hashedAs = await statOf(file.source!);
      options.hashProgress?.advance(size);
    }
  }

  let reused: BundleReused[] = [];
  if (options.inventory !== undefined) {
    const candidates = files.map((file) => ({ path: file.path, size: file.size, sha256: file.sha256! }));
    reused = selectReused(candidates, options.inventory.inventory, (path) => manifests.has(path) || layoutMeta.has(path));
    const reusedPaths = new Set(reused.map((entry) => entry.path));
    for (const file of files) if (reusedPaths.has(file.path)) file.carried = false;
  }
  return { root: options.root, files, layouts, reused, tools, skipped, absent };
}

/** Files and bytes per top-level directory (`.` for files at the root). */
export function contentsOf(files: PlannedFile[]): NonNullable<BundleSection['contents']> {
  const categories: Record<string, { files: number; bytes: number }> = {};
  let bytes = 0;
  for (const file of files) {
    const slash = file.path.indexOf('/');
    const category = slash < 0 ? '.' : file.path.slice(0, slash);
    const entry = (categories[category] ??= { files: 0, bytes: 0 });
    entry.files += 1;
    entry.bytes += file.size;
    bytes += file.size;
  }
  return { files: files.length, bytes, categories };
}

export interface ArchiveLayout {
  sumsText: Buffer;
  documentText: Buffer;
  /** The exact size the archive will have. */
  size: number;
  /** The document as carried in bundle.json. */
  carried: AgDocument;
  /** Every file SHA256SUMS lists, with its size (what a site's ledger records). */
  members: { path: string; sha256: string; size: number }[];
}

/** A signature is at most 512 bytes, so its entry is always two blocks. */
const SIGNATURE_ENTRY_BYTES = entryBytes({ path: SIGNATURE_FILE, size: 72 });
const END_OF_ARCHIVE = 1024;

/**
 * Renders SHA256SUMS and bundle.json and computes the archive's exact size.
 * bundle.json states that size, which depends on bundle.json's own length:
 * rendered until the two agree (twice, at most three times).
 */
export function layoutArchive(plan: PackPlan, document: AgDocument, section: Omit<BundleSection, 'size'>, signed: boolean): ArchiveLayout {
  const carried: AgDocument = { ...document };
  delete carried.root;
  const carriedFiles = plan.files.filter((file) => file.carried);
  const fixed =
    carriedFiles.reduce((sum, file) => sum + entryBytes({ path: file.path, size: file.size }), 0) + (signed ? SIGNATURE_ENTRY_BYTES : 0) + END_OF_ARCHIVE;
  let size = 0;
  let documentText = Buffer.alloc(0);
  let sumsText = Buffer.alloc(0);
  for (let round = 0; round < 5; round += 1) {
    const { file, ...rest } = section;
    const withSize: AgDocument = { ...carried, bundle: { file, size, ...rest } };
    documentText = Buffer.from(`${JSON.stringify(withSize, null, 2)}\n`);
    const documentSha = createHash('sha256').update(documentText).digest('hex');
    sumsText = Buffer.from(
      renderSums([
        ...plan.files.map((file) => ({ path: file.path, sha256: file.sha256 ?? '0'.repeat(64) })),
        { path: DOCUMENT_FILE, sha256: documentSha },
      ]),
    );
    const total = fixed + entryBytes({ path: SUMS_FILE, size: sumsText.length }) + entryBytes({ path: DOCUMENT_FILE, size: documentText.length });
    if (total === size) {
      const members = [...plan.files.map((file) => ({ path: file.path, sha256: file.sha256 ?? '0'.repeat(64), size: file.size })), { path: DOCUMENT_FILE, sha256: documentSha, size: documentText.length }];
      return { sumsText, documentText, size, carried: withSize, members };
    }
    size = total;
  }
  throw new Error('the archive size did not settle');
}
