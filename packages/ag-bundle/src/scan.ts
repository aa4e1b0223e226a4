import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { validateDocument, type AgDocument, type BundleReused } from '@ag/core';
import { linkTargetInRoot, normaliseEntryPath, unsafePathReason } from './entry-path.js';
import { bundleChunks, partsHolding, type BundleInput, type PartDigest } from './input.js';
import { MAX_SIGNATURE_BYTES, verifyBytes, type PublicKey, type SignatureAlgorithm } from './signing.js';
import { DOCUMENT_FILE, GENERATED_FILES, MAX_SUMS_BYTES, parseSums, SIGNATURE_FILE, SUMS_FILE } from './sums.js';
import { TarFormatError } from './tar/header.js';
import { TarReader, TarTruncatedError, type TarEntry } from './tar/reader.js';

/** What can be wrong with a bundle; each problem names the item it is about. */
export type ProblemKind =
  | 'signature'
  | 'unsigned'
  | 'mismatch'
  | 'missing'
  | 'extra'
  | 'unsafe'
  | 'duplicate'
  | 'truncated'
  | 'malformed'
  | 'order'
  | 'trailing'
  | 'part-missing'
  | 'part-truncated'
  | 'part-oversized'
  | 'part-mismatch'
  | 'part-swapped';

export interface Problem {
  /** The file, part or archive the problem is about (a path inside the bundle, or a file name here). */
  item: string;
  kind: ProblemKind;
  message: string;
  /** For a split bundle: the part(s) holding the bad item, so the disc can be named. */
  parts?: string[];
}

/** Receives verified-in-flight files (unpack writes them; verify passes none). */
export interface EntrySink {
  /** Called before a listed file's data streams; the writer gets every byte, then close or abort. */
  file(path: string, size: number, executable: boolean): Promise<EntryWriter>;
  directory(path: string): Promise<void>;
}

export interface EntryWriter {
  write(chunk: Buffer): Promise<void> | void;
  /** The file's bytes matched SHA256SUMS. */
  close(): Promise<void>;
  /** They did not, or the archive ended: remove what was written. */
  abort(): Promise<void>;
}

export interface ScanOptions {
  /** When given, a signature by this key is required and checked before anything else is read. */
  key?: PublicKey;
  sink?: EntrySink;
  /** Bytes of the archive read so far (for progress). */
  onBytes?: (count: number) => void;
}

export interface SignatureStatus {
  /** The bundle carries SHA256SUMS.sig. */
  present: boolean;
  /** It was checked against a key, and verified. */
  verified: boolean;
  fingerprint?: string;
  algorithm?: SignatureAlgorithm;
}

export interface ScanResult {
  problems: Problem[];
  signature: SignatureStatus;
  /** The parts list's signature (split bundles only). */
  partsSignature?: SignatureStatus;
  /** The carried document, when bundle.json matched SHA256SUMS and is a valid document. */
  document: AgDocument | undefined;
  /** SHA256SUMS as carried. */
  sums: Map<string, string>;
  sumsText: Buffer | undefined;
  /** Files carried and verified, and their bytes. */
  files: number;
  bytes: number;
  /** Files listed but not carried because the far side has them (delta bundles). */
  reused: BundleReused[];
  /** Bytes of the archive read. */
  archiveBytes: number;
  /** For a split bundle: every part's digest as read. */
  parts: PartDigest[];
}

/** Stops the scan: nothing after this point can be trusted or parsed. */
class FatalProblem extends Error {}

async function readSmall(reader: TarReader, entry: TarEntry, max: number): Promise<Buffer | undefined> {
  if (entry.size > max) return undefined;
  const chunks: Buffer[] = [];
  await reader.body((chunk) => {
    chunks.push(Buffer.from(chunk));
  });
  return Buffer.concat(chunks);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function checkParts(input: BundleInput, problems: Problem[]): void {
  if (input.kind !== 'parts') return;
  for (const part of input.parts) {
    if (part.actualSize === undefined) {
      problems.push({ item: part.file, kind: 'part-missing', message: `part ${part.file} is missing (looked for ${part.path})`, parts: [part.file] });
    } else if (part.actualSize < part.expectedSize) {
      problems.push({
        item: part.file,
        kind: 'part-truncated',
        message: `part ${part.file} is truncated: ${part.actualSize} of ${part.expectedSize} bytes`,
        parts: [part.file],
      });
    } else if (part.actualSize > part.expectedSize) {
      problems.push({
        item: part.file,
        kind: 'part-oversized',
        message: `part ${part.file} is ${part.actualSize} bytes, the parts list says ${part.expectedSize}`,
        parts: [part.file],
      });
    }
  }
}

function compareParts(input: BundleInput, digests: PartDigest[], problems: Problem[]): void {
  if (input.kind !== 'parts') return;
  for (const digest of digests) {
    const part = input.parts[digest.index]!;
    if (digest.sha256 === part.expectedSha256) continue;
    const holds = input.parts.find((other) => other.expectedSha256 === digest.sha256);
    problems.push(
      holds !== undefined
        ? { item: part.file, kind: 'part-swapped', message: `part ${part.file} holds what ${holds.file} should hold: the parts were swapped or misnamed`, parts: [part.file] }
        : {
            item: part.file,
            kind: 'part-mismatch',
            message: `part ${part.file} does not match the parts list (sha256 ${digest.sha256}, expected ${part.expectedSha256}): that medium is damaged`,
            parts: [part.file],
          },
    );
  }
}

function checkPartsSignature(input: BundleInput, key: PublicKey | undefined, problems: Problem[]): SignatureStatus | undefined {
  if (input.kind !== 'parts') return undefined;
  const status: SignatureStatus = { present: input.signature !== undefined, verified: false };
  if (key === undefined) return status;
  const listName = basename(input.listPath);
  if (input.signature === undefined) {
    problems.push({ item: `${listName}.sig`, kind: 'unsigned', message: `${listName} is not signed, and --key requires a signature` });
    return status;
  }
  if (!verifyBytes(key, input.listText, input.signature)) {
    problems.push({
      item: listName,
      kind: 'signature',
      message: `the signature ${listName}.sig does not verify ${listName} with key ${key.fingerprint}: the list or its signature was altered, or another key signed it`,
    });
    return status;
  }
  return { present: true, verified: true, fingerprint: key.fingerprint, algorithm: key.algorithm };
}

function reusedOf(document: AgDocument | undefined): BundleReused[] {
  return document?.bundle?.delta?.reused ?? [];
}

/** What is wrong with a bundle's signature of SHA256SUMS, checked with `key`; undefined when it verifies. */
export function signatureProblem(archive: string, key: PublicKey, sumsText: Buffer, signature: Buffer | undefined): Problem | undefined {
  if (signature === undefined) {
    return { item: SIGNATURE_FILE, kind: 'unsigned', message: `${archive} is not signed (it has no ${SIGNATURE_FILE}), and --key requires a signature` };
  }
  if (verifyBytes(key, sumsText, signature)) return undefined;
  return {
    item: SUMS_FILE,
    kind: 'signature',
    message: `${SIGNATURE_FILE} does not verify ${SUMS_FILE} with key ${key.fingerprint}: ${SUMS_FILE} or its signature was altered, or another key signed it`,
  };
}

/**
 * Streams once through a bundle and checks it the way the far side must
 * before trusting anything: SHA256SUMS comes first and its signature second,
 * so with a key the signature is checked before a single other byte is
 * believed; then every entry is checked as it passes — its path stays in the
 * root (no absolute path, no `..`), it is a regular file (no link, device or
 * fifo), it is listed, its sha256 and size match — and at the end nothing
 * listed is missing. For a split bundle the parts list's signature and each
 * part's size are checked first, and each part's sha256 as it is read, so a
 * bad, truncated or swapped disc is named.
 *
 * Collects every problem rather than stopping at the first, except where
 * nothing after could be trusted or parsed (a bad signature, a damaged
 * archive structure, a truncation). Files go to `sink` only while no problem
 * has been seen. Deliberately not here: writing anything itself, or judging
 * what the problems mean (verify and unpack do).
 */
export async function scanBundle(input: BundleInput, options: ScanOptions = {}): Promise<ScanResult> {
  const problems: Problem[] = [];
  const digests: PartDigest[] = [];
  const result: ScanResult = {
    problems,
    signature: { present: false, verified: false },
    document: undefined,
    sums: new Map(),
    sumsText: undefined,
    files: 0,
    bytes: 0,
    reused: [],
    archiveBytes: 0,
    parts: digests,
  };
  result.partsSignature = checkPartsSignature(input, options.key, problems);
  checkParts(input, problems);
  if (problems.length > 0) return result;

  const where = (entry: TarEntry): string[] => partsHolding(input, entry.headerOffset, entry.dataOffset + entry.size);
  const add = (problem: Problem): void => {
    problems.push(problem);
  };
  const chunks = bundleChunks(input, (digest) => digests.push(digest));
  const counted = (async function* () {
    for await (const chunk of chunks) {
      options.onBytes?.(chunk.length);
      yield chunk;
    }
  })();
  const reader = new TarReader(counted);
  const archive = input.label;
  let completed = false;
  const seen = new Set<string>();
  let sums = new Map<string, string>();
  try {
    // 1. SHA256SUMS, then its signature: nothing else is believed before them.
    const first = await reader.next();
    if (first === undefined || first.path !== SUMS_FILE || first.kind !== 'file') {
      add({ item: first?.path ?? archive, kind: 'order', message: `${archive} is not an ag bundle: its first entry is ${first ? JSON.stringify(first.path) : 'missing'}, not ${SUMS_FILE}` });
      throw new FatalProblem();
    }
    const sumsText = await readSmall(reader, first, MAX_SUMS_BYTES);
    if (sumsText === undefined) {
      add({ item: SUMS_FILE, kind: 'malformed', message: `${SUMS_FILE} is ${first.size} bytes, more than ag-bundle accepts` });
      throw new FatalProblem();
    }
    seen.add(SUMS_FILE);
    result.sumsText = sumsText;
    let next = await reader.next();
    let signature: Buffer | undefined;
    if (next !== undefined && next.path === SIGNATURE_FILE && next.kind === 'file') {
      signature = await readSmall(reader, next, MAX_SIGNATURE_BYTES);
      if (signature === undefined) {
        add({ item: SIGNATURE_FILE, kind: 'malformed', message: `${SIGNATURE_FILE} is ${next.size} bytes: not a signature` });
        throw new FatalProblem();
      }
      seen.add(SIGNATURE_FILE);
      next = await reader.next();
    }
    result.signature.present = signature !== undefined;
    if (options.key !== undefined) {
      const refused = signatureProblem(archive, options.key, sumsText, signature);
      if (refused !== undefined) {
        add(refused);
        throw new FatalProblem();
      }
      result.signature = { present: true, verified: true, fingerprint: options.key.fingerprint, algorithm: options.key.algorithm };
    }
    const parsed = parseSums(sumsText.toString('utf8'));
    for (const problem of parsed.problems) add({ item: SUMS_FILE, kind: 'malformed', message: `${SUMS_FILE}: ${problem.message}` });
    sums = parsed.entries;
    result.sums = sums;
    if (options.sink !== undefined && problems.length === 0) {
      await writeWhole(options.sink, SUMS_FILE, sumsText);
      if (signature !== undefined) await writeWhole(options.sink, SIGNATURE_FILE, signature);
    }

    // 2. bundle.json: the document, checked against SHA256SUMS before it is read.
    if (next === undefined || next.path !== DOCUMENT_FILE || next.kind !== 'file') {
      add({ item: DOCUMENT_FILE, kind: 'order', message: `${archive}: ${DOCUMENT_FILE} must follow ${SUMS_FILE}${signature ? ` and ${SIGNATURE_FILE}` : ''}, found ${next ? JSON.stringify(next.path) : 'the end'}` });
      throw new FatalProblem();
    }
    const documentText = await readSmall(reader, next, MAX_SUMS_BYTES);
    seen.add(DOCUMENT_FILE);
    const expected = sums.get(DOCUMENT_FILE);
    if (documentText === undefined) {
      add({ item: DOCUMENT_FILE, kind: 'malformed', message: `${DOCUMENT_FILE} is ${next.size} bytes, more than ag-bundle accepts` });
    } else if (expected === undefined) {
      add({ item: DOCUMENT_FILE, kind: 'extra', message: `${DOCUMENT_FILE} is not listed in ${SUMS_FILE}` });
    } else if (sha256(documentText) !== expected) {
      add({ item: DOCUMENT_FILE, kind: 'mismatch', message: `${DOCUMENT_FILE} does not match ${SUMS_FILE} (sha256 ${sha256(documentText)}, expected ${expected})`, parts: where(next) });
    } else {
      try {
        result.document = validateDocument(JSON.parse(documentText.toString('utf8')), DOCUMENT_FILE);
      } catch (error) {
        add({ item: DOCUMENT_FILE, kind: 'malformed', message: `${DOCUMENT_FILE} is not a valid ag document: ${(error as Error).message}` });
      }
      if (options.sink !== undefined && problems.length === 0) await writeWhole(options.sink, DOCUMENT_FILE, documentText);
      result.files += 1;
      result.bytes += documentText.length;
    }
    result.reused = reusedOf(result.document);
    // A file shorter than the bundle it claims to be is cut off: say so now, not after reading it all.
    const declared = result.document?.bundle?.size;
    if (input.kind === 'file' && declared !== undefined && input.size < declared) {
      add({ item: archive, kind: 'truncated', message: `${archive} is truncated: ${input.size} of ${declared} bytes` });
      throw new FatalProblem();
    }

    // 3. Every other entry, streamed once.
    for (let entry = await reader.next(); entry !== undefined; entry = await reader.next()) {
      await checkEntry(entry);
    }
    const rest = await reader.bytes.drain();
    if (rest.nonZero) add({ item: archive, kind: 'trailing', message: `${archive} has ${rest.bytes} bytes of data after the end of the archive` });
    completed = true;
  } catch (error) {
    if (error instanceof TarTruncatedError) {
      const item = error.entryPath ?? archive;
      add({
        item,
        kind: 'truncated',
        message: `${archive} is truncated: ${error.message}`,
        parts: partsHolding(input, error.offset, error.offset + 1),
      });
    } else if (error instanceof TarFormatError) {
      add({ item: archive, kind: 'malformed', message: `${archive} is damaged near byte ${reader.offset}: ${error.message}`, parts: partsHolding(input, reader.offset - 512, reader.offset) });
    } else if (!(error instanceof FatalProblem)) {
      throw error;
    }
    // Keep reading a split bundle to the end, so every bad part is named too.
    if (input.kind === 'parts') await reader.bytes.drain().catch(() => undefined);
  } finally {
    // Closes the files and ends the parts' hashing worker, whatever happened.
    await reader.bytes.close().catch(() => undefined);
  }
  result.archiveBytes = reader.offset;
  compareParts(input, digests, problems);
  if (completed) {
    const reused = new Set(result.reused.map((entry) => entry.path));
    for (const path of result.sums.keys()) {
      if (!seen.has(path) && !reused.has(path)) add({ item: path, kind: 'missing', message: `${path} is listed in ${SUMS_FILE} but not in the bundle` });
    }
  }
  return result;

  async function checkEntry(entry: TarEntry): Promise<void> {
    const path = normaliseEntryPath(entry.path, entry.kind === 'directory');
    const unsafe = unsafePathReason(path);
    if (entry.kind === 'symlink' || entry.kind === 'hardlink') {
      const lands = unsafe === undefined ? linkTargetInRoot(path, entry.linkName) : undefined;
      add({
        item: entry.path,
        kind: 'unsafe',
        message:
          lands === undefined
            ? `${entry.path} is a ${entry.kind === 'symlink' ? 'symbolic' : 'hard'} link to ${entry.linkName}, which points out of the bundle root`
            : `${entry.path} is a ${entry.kind === 'symlink' ? 'symbolic' : 'hard'} link to ${entry.linkName}; bundles carry regular files only`,
        parts: where(entry),
      });
      return;
    }
    if (entry.kind === 'device' || entry.kind === 'fifo' || entry.kind === 'other') {
      add({ item: entry.path, kind: 'unsafe', message: `${entry.path} is a ${entry.kind === 'other' ? `type ${JSON.stringify(entry.type)} entry` : entry.kind}; bundles carry regular files only`, parts: where(entry) });
      return;
    }
    if (unsafe !== undefined) {
      add({ item: entry.path, kind: 'unsafe', message: `${JSON.stringify(entry.path)} is refused: ${unsafe}`, parts: where(entry) });
      return;
    }
    if (entry.kind === 'directory') {
      if (options.sink !== undefined && problems.length === 0) await options.sink.directory(path);
      return;
    }
    if (seen.has(path) || GENERATED_FILES.includes(path)) {
      add({ item: path, kind: 'duplicate', message: `${path} appears twice in the archive`, parts: where(entry) });
      return;
    }
    seen.add(path);
    const expected = sums.get(path);
    if (expected === undefined) {
      add({ item: path, kind: 'extra', message: `${path} is in the archive but not listed in ${SUMS_FILE}`, parts: where(entry) });
      return;
    }
    const hash = createHash('sha256');
    const writer = options.sink !== undefined && problems.length === 0 ? await options.sink.file(path, entry.size, (entry.mode & 0o111) !== 0) : undefined;
    try {
      await reader.body(
        writer === undefined
          ? (chunk) => {
              hash.update(chunk);
            }
          : (chunk) => {
              hash.update(chunk);
              return writer.write(chunk);
            },
      );
    } catch (error) {
      await writer?.abort();
      throw error;
    }
    const actual = hash.digest('hex');
    if (actual !== expected) {
      await writer?.abort();
      add({ item: path, kind: 'mismatch', message: `${path} does not match ${SUMS_FILE} (sha256 ${actual}, ${entry.size} bytes; expected ${expected})`, parts: where(entry) });
      return;
    }
    await writer?.close();
    result.files += 1;
    result.bytes += entry.size;
  }
}

async function writeWhole(sink: EntrySink, path: string, bytes: Buffer): Promise<void> {
  const writer = await sink.file(path, bytes.length, false);
  await writer.write(bytes);
  await writer.close();
}
