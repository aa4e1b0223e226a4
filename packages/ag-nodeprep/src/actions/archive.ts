import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { posix } from 'node:path';
import { finished } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { HashingStream, UsageError } from '@ag/core';

export interface ArchiveMember {
  /** The entry's path in the archive (`linux-amd64/helm`, `./bridge`). */
  entry: string;
  /** The flattened name it is installed under (`helm`, `bridge`). */
  name: string;
  mode: number;
}

/** `./linux-amd64/helm` -> `linux-amd64/helm`; refuses absolute and `..` paths (a hostile archive). */
export function cleanEntryPath(path: string): string {
  const clean = posix.normalize(path.replace(/^(\.\/)+/, ''));
  if (clean.startsWith('/') || clean === '..' || clean.startsWith('../')) throw new UsageError(`archive entry ${JSON.stringify(path)} escapes the archive`);
  return clean;
}

/**
 * Streams a (gzipped) tar once: hashes the archive bytes as they are read,
 * and hands each selected regular file to `onMember` (which must consume the
 * stream). `select` maps an entry path to the member it is, or undefined to
 * skip it. Returns the archive's SHA-256 and the members seen.
 */
export async function streamArchive(
  path: string,
  select: (entryPath: string, mode: number) => ArchiveMember | undefined,
  onMember: (member: ArchiveMember, stream: ReadEntry) => Promise<void>,
): Promise<{ sha256: string; members: ArchiveMember[] }> {
  const hasher = new HashingStream();
  const parser = new Parser();
  const members: ArchiveMember[] = [];
  const pending: Promise<void>[] = [];
  let failure: unknown;
  parser.on('entry', (entry: ReadEntry) => {
    let member: ArchiveMember | undefined;
    try {
      member = entry.type === 'File' || entry.type === 'OldFile' ? select(cleanEntryPath(entry.path), entry.mode ?? 0o644) : undefined;
    } catch (error) {
      failure ??= error;
    }
    if (member === undefined) {
      entry.resume();
      return;
    }
    members.push(member);
    pending.push(onMember(member, entry).catch((error: unknown) => void (failure ??= error)));
  });
  const done = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
  });
  const source = createReadStream(path);
  source.pipe(hasher).pipe(parser as unknown as NodeJS.WritableStream);
  await Promise.all([done, finished(source)]);
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
  return { sha256: hasher.digest(), members };
}

/** Writes a member's stream to `target` (mode), returning its SHA-256. */
export async function writeMember(stream: ReadEntry, target: string, mode: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(target, { mode });
  stream.on('data', (chunk: Buffer) => hash.update(chunk));
  stream.pipe(out as unknown as NodeJS.WritableStream);
  await finished(out);
  return hash.digest('hex');
}

/** Hashes a member's stream without writing it. */
export async function hashMember(stream: ReadEntry): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}
