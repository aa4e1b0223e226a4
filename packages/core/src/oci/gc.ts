import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VerificationError, withContext } from '../errors.js';
import type { Descriptor } from './descriptor.js';
import type { OciLayout } from './layout.js';
import { isManifestDescriptor } from './manifest.js';
import { walkImages, type ImageGraph } from './walk.js';
import { isReferrerEntry, referrerEntries } from './referrers.js';
import { processAlive } from './process-alive.js';

export interface GcOptions {
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
}

export interface GcResult {
  /** Blobs no image reaches (deleted unless dry-run). */
  removed: Array<{ digest: string; size: number }>;
  freedBytes: number;
  /** Blobs still referenced. */
  kept: number;
  /** Partial downloads left by processes that are gone (deleted unless dry-run). */
  partials: string[];
  /** Referrers whose subject is no longer in the layout (their index.json entries removed unless dry-run). */
  orphanReferrers: string[];
}

const HEX = /^[a-f0-9]{64}$/;


/**
 * Deletes the blobs no index.json entry reaches, and partial downloads whose
 * writer is gone. Refuses to run on a layout whose images are incomplete
 * (their unknown children could be deleted): verify and pull first.
 * Files in blobs/sha256 that are not named by a digest are left alone.
 * Not safe while a pull into the same layout is running (its new blobs are
 * not yet named).
 */
export async function gcLayout(layout: OciLayout, options: GcOptions = {}): Promise<GcResult> {
  const entries = await layout.entries();
  const missing: Descriptor[] = [];
  // Images are roots; a referrer (signature, SBOM) is a root while its subject is reached, and so on
  // for referrers of referrers.
  const roots = entries.map((entry) => entry.descriptor).filter((d) => !isReferrerEntry(d));
  const referrers = referrerEntries(entries.map((entry) => entry.descriptor));
  let graph: ImageGraph;
  for (;;) {
    missing.length = 0;
    graph = await walkImages(layout, roots, { missing });
    const live = referrers.filter((r) => graph.descriptors.has(r.subject) && !roots.includes(r.descriptor));
    if (live.length === 0) break;
    roots.push(...live.map((r) => r.descriptor));
  }
  const orphans = referrers.filter((r) => !roots.includes(r.descriptor));
  const missingManifests = missing.filter(isManifestDescriptor);
  if (missingManifests.length > 0) {
    throw new VerificationError(`garbage collection refused: manifest ${missingManifests[0]!.digest} is missing from ${layout.dir}`, {
      details: { digest: missingManifests[0]!.digest },
      hint: 'run ag-images verify and pull the damaged images again first',
    });
  }
  const result: GcResult = { removed: [], freedBytes: 0, kept: 0, partials: [], orphanReferrers: orphans.map((r) => r.descriptor.digest) };
  if (orphans.length > 0 && !options.dryRun) {
    // The entries go before their blobs, so index.json never names what is gone.
    await layout.updateIndex((manifests) => manifests.filter((d) => !orphans.some((o) => o.descriptor === d || JSON.stringify(o.descriptor) === JSON.stringify(d))));
  }
  let names: string[];
  try {
    names = await readdir(layout.blobDir);
  } catch (error) {
    throw withContext(`listing ${layout.blobDir}`, error);
  }
  for (const name of names) {
    if (!HEX.test(name)) continue;
    if (graph.descriptors.has(`sha256:${name}`)) {
      result.kept += 1;
      continue;
    }
    const path = join(layout.blobDir, name);
    const size = (await stat(path)).size;
    result.removed.push({ digest: `sha256:${name}`, size });
    result.freedBytes += size;
    if (!options.dryRun) await rm(path, { force: true });
  }
  const partials = await readdir(layout.ingestDir).catch(() => [] as string[]);
  for (const name of partials) {
    const match = /^[a-f0-9]{64}\.(\d+)\..*\.partial$/.exec(name);
    if (!match || processAlive(Number(match[1]))) continue;
    result.partials.push(name);
    if (!options.dryRun) await rm(join(layout.ingestDir, name), { force: true });
  }
  return result;
}
