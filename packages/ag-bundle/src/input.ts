import { createReadStream } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { MissingError, UsageError, withContext } from '@ag/core';
import { createArchiveHasher } from './parallel-hash.js';
import { MAX_SIGNATURE_BYTES } from './signing.js';
import type { SkippableSource } from './tar/chunk-reader.js';
import { bundleOfPart, parsePartsList, PARTS_SIGNATURE_SUFFIX, PARTS_SUFFIX, type PartsList } from './parts.js';

/** One part of a split bundle as found on this side. */
export interface FoundPart {
  file: string;
  /** Where it is here. */
  path: string;
  expectedSize: number;
  expectedSha256: string;
  /** Its size here, or undefined when it is missing. */
  actualSize: number | undefined;
}

/** Where a bundle's bytes come from: one tar, the parts of a split one, or stdin. */
export type BundleInput =
  | { kind: 'file'; label: string; path: string; size: number }
  | {
      kind: 'parts';
      label: string;
      listPath: string;
      listText: Buffer;
      list: PartsList;
      /** The parts list's signature, when there is one. */
      signature: Buffer | undefined;
      parts: FoundPart[];
    }
  | { kind: 'stdin'; label: string; stream: Readable };

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

async function readOptional(path: string, max: number): Promise<Buffer | undefined> {
  const size = await sizeOf(path);
  if (size === undefined) return undefined;
  if (size > max) throw new UsageError(`${path} is ${size} bytes: not a signature`);
  return readFile(path);
}

async function openParts(listPath: string, given: string[]): Promise<BundleInput> {
  let listText: Buffer;
  try {
    listText = await readFile(listPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MissingError(`the parts list ${listPath} is missing, so the parts cannot be checked or ordered`, {
        hint: `copy ${basename(listPath)} (and ${basename(listPath)}.sig) from the connected side next to the parts, or join them yourself: cat PARTS... | ag-bundle verify -`,
      });
    }
    throw withContext(`reading the parts list ${listPath}`, error);
  }
  const list = parsePartsList(listText.toString('utf8'), listPath);
  const byName = new Map(given.map((path) => [basename(path), path]));
  const known = new Set(list.parts.map((part) => part.file));
  const strangers = [...byName.keys()].filter((name) => !known.has(name));
  if (strangers.length > 0) {
    throw new UsageError(`${strangers.join(', ')} ${strangers.length === 1 ? 'is' : 'are'} not in the parts list ${basename(listPath)}`, {
      hint: `the list names ${list.parts.map((part) => part.file).join(', ')}`,
    });
  }
  const parts: FoundPart[] = [];
  for (const part of list.parts) {
    const path = byName.get(part.file) ?? join(dirname(listPath), part.file);
    parts.push({ file: part.file, path, expectedSize: part.size, expectedSha256: part.sha256, actualSize: await sizeOf(path) });
  }
  const signature = await readOptional(`${listPath.slice(0, -PARTS_SUFFIX.length)}${PARTS_SIGNATURE_SUFFIX}`, MAX_SIGNATURE_BYTES);
  return { kind: 'parts', label: list.bundle, listPath, listText, list, signature, parts };
}

/**
 * Finds the bundle that command-line arguments name: `FILE.tar`; the parts
 * `FILE.tar.000 FILE.tar.001…` (any order: the parts list orders them);
 * `FILE.tar.parts`; `FILE.tar` when only its parts are there; or `-` for
 * stdin (then nothing can be checked about parts, only the archive).
 */
export async function openBundleInput(args: string[], io: { cwd: string; stdin: Readable & { isTTY?: boolean } }): Promise<BundleInput> {
  if (args.length === 0) throw new UsageError('no bundle given', { hint: 'pass FILE.tar, its parts FILE.tar.000 FILE.tar.001 …, or - for stdin' });
  if (args.length === 1 && args[0] === '-') {
    if (io.stdin.isTTY) throw new UsageError('- means the bundle comes on stdin, but stdin is a terminal', { hint: 'cat bundle.tar.* | ag-bundle verify -' });
    return { kind: 'stdin', label: 'stdin', stream: io.stdin };
  }
  const paths = args.map((arg) => resolve(io.cwd, arg));
  if (paths.length === 1) {
    const path = paths[0]!;
    if (path.endsWith(PARTS_SUFFIX)) return openParts(path, []);
    const size = await sizeOf(path);
    const stem = bundleOfPart(path);
    if (size !== undefined && (stem === undefined || (await sizeOf(stem + PARTS_SUFFIX)) === undefined)) {
      return { kind: 'file', label: basename(path), path, size };
    }
    if (stem !== undefined) return openParts(stem + PARTS_SUFFIX, paths);
    if ((await sizeOf(path + PARTS_SUFFIX)) !== undefined) return openParts(path + PARTS_SUFFIX, []);
    throw new MissingError(`the bundle ${path} does not exist (nor its parts list ${basename(path)}${PARTS_SUFFIX})`, {
      hint: 'check the path; a split bundle is named by its parts or by FILE.tar.parts',
    });
  }
  const stems = new Set(paths.map((path) => bundleOfPart(path)));
  const stem = [...stems][0];
  if (stems.size !== 1 || stem === undefined) {
    throw new UsageError(`${args.join(' ')}: several files must be the numbered parts of one bundle (FILE.tar.000 FILE.tar.001 …)`);
  }
  return openParts(stem + PARTS_SUFFIX, paths);
}

export interface PartDigest {
  index: number;
  sha256: string;
  size: number;
}

/**
 * The bundle's bytes as one stream of chunks: the file, the parts one after
 * the other, or stdin. For parts, each part's sha256 is computed on another
 * core as the bytes pass and reported through `onPart` once all are read.
 */
export async function* bundleChunks(input: BundleInput, onPart?: (digest: PartDigest) => void): AsyncGenerator<Buffer> {
  if (input.kind === 'stdin') {
    for await (const chunk of input.stream) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    return;
  }
  if (input.kind === 'file') {
    yield* createReadStream(input.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
    return;
  }
  // The parts list's part size: every part but the last has exactly that many bytes (checked before reading).
  const hasher = createArchiveHasher(input.list.partSize);
  let digested = false;
  try {
    for (const part of input.parts) {
      for await (const chunk of createReadStream(part.path, { highWaterMark: 1 << 20 })) {
        await hasher.update(chunk as Buffer);
        yield chunk as Buffer;
      }
    }
    const { parts } = await hasher.digest();
    digested = true;
    parts.forEach((sha256, index) => onPart?.({ index, sha256, size: input.parts[index]?.actualSize ?? 0 }));
  } finally {
    if (!digested) await hasher.abort();
  }
}

/** The parts that hold bytes `[start, end)` of the archive (for naming the disc a bad file is on). */
export function partsHolding(input: BundleInput, start: number, end: number): string[] {
  if (input.kind !== 'parts') return [];
  const names: string[] = [];
  let at = 0;
  for (const part of input.parts) {
    const next = at + part.expectedSize;
    if (next > start && at < Math.max(end, start + 1)) names.push(part.file);
    at = next;
  }
  return names;
}

/**
 * The bundle's bytes for a reader that skips most of them (inspect): read in
 * small pieces at a position that `skip` moves, so a multi-GB bundle is
 * listed without reading its layers. Stdin cannot seek: it is read through.
 */
export function seekableChunks(input: BundleInput): SkippableSource {
  if (input.kind === 'stdin') return bundleChunks(input);
  const files = input.kind === 'file' ? [{ path: input.path, size: input.size }] : input.parts.map((part) => ({ path: part.path, size: part.actualSize ?? 0 }));
  const total = files.reduce((sum, file) => sum + file.size, 0);
  let position = 0;
  return {
    skip(n: number): number {
      const step = Math.min(n, total - position);
      position += step;
      return step;
    },
    async *[Symbol.asyncIterator]() {
      const handles = new Map<number, FileHandle>();
      try {
        while (position < total) {
          let start = 0;
          let index = 0;
          while (start + files[index]!.size <= position) start += files[index++]!.size;
          const file = files[index]!;
          let handle = handles.get(index);
          if (handle === undefined) {
            handle = await open(file.path, 'r');
            handles.set(index, handle);
          }
          const want = Math.min(64 * 1024, file.size - (position - start));
          const buffer = Buffer.allocUnsafe(want);
          const { bytesRead } = await handle.read(buffer, 0, want, position - start);
          if (bytesRead === 0) return;
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        for (const handle of handles.values()) await handle.close();
      }
    },
  };
}
