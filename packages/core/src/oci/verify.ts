import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AgError, VerificationError } from '../errors.js';
import type { Descriptor } from './descriptor.js';
import type { OciLayout } from './layout.js';
import { childDescriptors, isManifestDescriptor } from './manifest.js';
import { isNondistributable } from './media-types.js';

/** One thing wrong with a layout, named by the digest it concerns. */
export interface VerifyProblem {
  digest: string;
  /** What is wrong, e.g. "content hashes to sha256:…", "missing", "size 12 instead of 14". */
  problem: string;
  /** The image reference it belongs to, when known. */
  ref?: string;
}

export interface VerifyReport {
  /** Blobs re-hashed. */
  blobs: number;
  bytes: number;
  /** index.json entries checked. */
  images: number;
  /** Non-distributable layers that are referenced but (by design) not stored. */
  foreign: number;
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  /** Re-hash every blob (default true); without it only structure and sizes are checked. */
  rehash?: boolean;
  /** Blobs hashed at once (default 2: hashing is CPU-bound, reading is not). */
  concurrency?: number;
  /** Called with each blob's size once it is hashed (for progress). */
  onBlob?: (digest: string, size: number) => void;
}

const HEX = /^[a-f0-9]{64}$/;

async function hashFile(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/**
 * Checks a layout end to end: `oci-layout` is right; every blob in
 * blobs/sha256 hashes to its name; every index.json entry reaches only
 * stored blobs (non-distributable layers excepted) whose sizes match their
 * descriptors; every manifest and index parses, and its media type agrees
 * with the descriptor that points at it. Collects all problems rather than
 * stopping at the first; see assertVerified to throw.
 */
export async function verifyLayout(layout: OciLayout, options: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { blobs: 0, bytes: 0, images: 0, foreign: 0, problems: [] };
  try {
    const marker = JSON.parse(await readFile(join(layout.dir, 'oci-layout'), 'utf8')) as { imageLayoutVersion?: unknown };
    if (typeof marker.imageLayoutVersion !== 'string') report.problems.push({ digest: '', problem: 'oci-layout has no imageLayoutVersion' });
  } catch (error) {
    report.problems.push({ digest: '', problem: `oci-layout is unreadable: ${(error as Error).message}` });
  }
  const names = (await readdir(layout.blobDir)).filter((name) => HEX.test(name));
  const stored = new Map<string, number>();
  const queue = [...names];
  const worker = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const digest = `sha256:${name}`;
      if (options.rehash === false) {
        stored.set(digest, (await stat(join(layout.blobDir, name))).size);
        continue;
      }
      const actual = await hashFile(join(layout.blobDir, name));
      stored.set(digest, actual.size);
      report.blobs += 1;
      report.bytes += actual.size;
      options.onBlob?.(digest, actual.size);
      if (actual.digest !== digest) report.problems.push({ digest, problem: `content hashes to ${actual.digest}` });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));

  let entries;
  try {
    entries = await layout.entries();
  } catch (error) {
    report.problems.push({ digest: '', problem: `index.json: ${(error as Error).message}` });
    return report;
  }
  const checked = new Set<string>();
  for (const entry of entries) {
    report.images += 1;
    const ref = entry.ref ?? '(unnamed)';
    const queueDescriptors: Descriptor[] = [entry.descriptor];
    while (queueDescriptors.length > 0) {
      const descriptor = queueDescriptors.shift()!;
      if (checked.has(descriptor.digest)) continue;
      checked.add(descriptor.digest);
      const size = stored.get(descriptor.digest);
      if (size === undefined) {
        if (isNondistributable(descriptor.mediaType)) {
          report.foreign += 1;
          continue;
        }
        report.problems.push({ digest: descriptor.digest, problem: `${descriptor.mediaType} is missing`, ref });
        continue;
      }
      if (size !== descriptor.size) {
        report.problems.push({ digest: descriptor.digest, problem: `stored size ${size} differs from the descriptor's ${descriptor.size}`, ref });
        continue;
      }
      if (!isManifestDescriptor(descriptor)) continue;
      try {
        const { parsed } = await layout.readManifest(descriptor);
        if (parsed.mediaType !== descriptor.mediaType) {
          report.problems.push({ digest: descriptor.digest, problem: `is a ${parsed.mediaType} but referenced as ${descriptor.mediaType}`, ref });
        }
        queueDescriptors.push(...childDescriptors(parsed));
      } catch (error) {
        report.problems.push({ digest: descriptor.digest, problem: error instanceof AgError ? error.message : String(error), ref });
      }
    }
  }
  return report;
}

/** One problem as a line: `blob sha256:… content hashes to sha256:… in registry.k8s.io/pause:3.9`. */
function problemLine(problem: VerifyProblem): string {
  return `${problem.digest ? `blob ${problem.digest} ` : ''}${problem.problem}${problem.ref ? ` in ${problem.ref}` : ''}`;
}

/** Throws a VerificationError naming every problem (one line each), so one run lists all that must be fetched again. */
export function assertVerified(report: VerifyReport, where: string): void {
  const first = report.problems[0];
  if (first === undefined) return;
  const message =
    report.problems.length === 1
      ? `${where}: ${problemLine(first)}`
      : `${where}: ${report.problems.length} problems:\n${report.problems.map((p) => `  ${problemLine(p)}`).join('\n')}`;
  throw new VerificationError(message, {
    details: { digest: first.digest, problems: report.problems },
    hint: 'pull the named images again (only the damaged or missing blobs are fetched); a blob that does not match its name is deleted by ag-images verify --repair',
  });
}

/**
 * Deletes the blobs a report found hashing to something other than their
 * name, so that the next pull fetches them again (pull trusts a stored blob's
 * name). Returns the digests removed; index.json is left as it is.
 */
export async function removeCorruptBlobs(layout: OciLayout, report: VerifyReport): Promise<string[]> {
  const corrupt = report.problems.filter((p) => p.problem.startsWith('content hashes to ')).map((p) => p.digest);
  for (const digest of corrupt) await rm(layout.blobPath(digest), { force: true });
  return corrupt;
}
