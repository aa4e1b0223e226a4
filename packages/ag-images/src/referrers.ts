import {
  AgError,
  addReferrers,
  childDescriptors,
  isManifestDescriptor,
  listReferrers,
  parseManifest,
  pushReferrer,
  referrerEntries,
  silentLogger,
  withContext,
  type Descriptor,
  type Logger,
  type OciLayout,
  type RegistryClient,
  type StoredReferrer,
} from '@ag/core';

/**
 * Signatures and SBOMs published as OCI referrers (manifests whose `subject`
 * is an image), carried with the images: fetched on pull (`--with-referrers`)
 * into the layout as unnamed index.json entries (see core's oci/referrers.ts),
 * and pushed back after their image.
 */

/** How deep referrers of referrers are followed (a signature of an SBOM of an image is depth 2). */
export const MAX_REFERRER_DEPTH = 3;

/** A referrer carried or restored: its digest, what it is, and the manifest it refers to. */
export interface ReferrerRecord {
  subject: string;
  digest: string;
  artifactType: string | undefined;
}

/**
 * Fetches the referrers of `subjects` (digests of an image's index and
 * platform manifests) from `repository` into the layout: each referrer's
 * blobs, then its manifest, then its own referrers (up to MAX_REFERRER_DEPTH),
 * then all are recorded in index.json at once. A referrer ag cannot store (a
 * media type that is no manifest) is skipped with a warning.
 */
export async function pullReferrers(
  layout: OciLayout,
  client: RegistryClient,
  repository: string,
  subjects: string[],
  log: Logger = silentLogger,
): Promise<ReferrerRecord[]> {
  const stored: StoredReferrer[] = [];
  const seen = new Set<string>();
  let level = [...new Set(subjects)];
  for (let depth = 1; depth <= MAX_REFERRER_DEPTH && level.length > 0; depth += 1) {
    const next: string[] = [];
    for (const subject of level) {
      const { descriptors, via } = await listReferrers(client, repository, subject);
      if (descriptors.length > 0) log.debug(`${repository}@${subject}: ${descriptors.length} referrer(s) (from the ${via === 'api' ? 'referrers API' : 'referrers tag'})`);
      for (const descriptor of descriptors) {
        if (!isManifestDescriptor(descriptor)) {
          log.warn(`${repository}@${subject}: skipping referrer ${descriptor.digest}: ${descriptor.mediaType} is not a manifest ag can store`);
          continue;
        }
        if (!seen.has(descriptor.digest)) {
          await fetchReferrer(layout, client, repository, descriptor);
          next.push(descriptor.digest);
          seen.add(descriptor.digest);
        }
        stored.push({ subject, descriptor: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, ...extra(descriptor) } });
      }
    }
    level = next;
  }
  await addReferrers(layout, stored);
  return stored.map(record);
}

/** One referrer's blobs (config, layers; an index referrer's manifests) and then its manifest. */
async function fetchReferrer(layout: OciLayout, client: RegistryClient, repository: string, descriptor: Descriptor): Promise<void> {
  try {
    const { bytes, digest } = await client.getManifest(repository, descriptor.digest);
    if (digest !== descriptor.digest || bytes.length !== descriptor.size) {
      throw new AgError('verification', `the registry served ${digest} (${bytes.length} bytes) for referrer ${descriptor.digest} (${descriptor.size} bytes)`);
    }
    const parsed = parseManifest(bytes, descriptor.mediaType, `referrer ${descriptor.digest}`);
    for (const blob of childDescriptors(parsed)) {
      if (await layout.hasBlob(blob)) continue;
      if (isManifestDescriptor(blob)) {
        await fetchReferrer(layout, client, repository, blob);
        continue;
      }
      const writer = await layout.openBlobWriter(blob);
      try {
        await client.fetchBlob(repository, blob, writer);
      } catch (error) {
        await writer.abort();
        throw error;
      }
    }
    await layout.writeBytes(bytes, descriptor.mediaType);
  } catch (error) {
    throw withContext(`fetching referrer ${descriptor.digest} of ${client.registry}/${repository}`, error);
  }
}

/**
 * Pushes the layout's referrers of an image already pushed to `repository`
 * (whose manifests are `pushed`): their blobs, then each manifest with its
 * `subject` intact, then referrers of those. Where the registry does not
 * index subjects itself, the referrers tag index is written too (see
 * pushReferrer). Returns what was pushed.
 */
export async function pushReferrers(
  layout: OciLayout,
  client: RegistryClient,
  repository: string,
  pushed: Iterable<string>,
  log: Logger = silentLogger,
): Promise<Array<ReferrerRecord & { tagged: boolean }>> {
  const all = referrerEntries((await layout.readIndex()).manifests);
  if (all.length === 0) return [];
  const present = new Set(pushed);
  const done: Array<ReferrerRecord & { tagged: boolean }> = [];
  const sent = new Set<string>();
  for (let round = 0; round < MAX_REFERRER_DEPTH; round += 1) {
    const due = all.filter((r) => present.has(r.subject) && !sent.has(`${r.subject} ${r.descriptor.digest}`));
    if (due.length === 0) break;
    for (const referrer of due) {
      sent.add(`${referrer.subject} ${referrer.descriptor.digest}`);
      try {
        const bytes = await sendManifestContent(layout, client, repository, referrer.descriptor);
        const { tagged } = await pushReferrer(client, repository, bytes, referrer.descriptor.mediaType);
        present.add(referrer.descriptor.digest);
        done.push({ ...record(referrer), tagged });
        log.debug(`${repository}: referrer ${referrer.descriptor.digest} of ${referrer.subject}${tagged ? ' (and its referrers tag)' : ''}`);
      } catch (error) {
        throw withContext(`pushing referrer ${referrer.descriptor.digest} of ${referrer.subject} to ${client.registry}/${repository}`, error);
      }
    }
  }
  return done;
}

/** Uploads what a referrer manifest points at (skipping what the registry has); returns the manifest's bytes. */
async function sendManifestContent(layout: OciLayout, client: RegistryClient, repository: string, descriptor: Descriptor): Promise<Buffer> {
  const bytes = await layout.readBytes(descriptor);
  const parsed = parseManifest(bytes, descriptor.mediaType, `referrer ${descriptor.digest}`);
  for (const blob of childDescriptors(parsed)) {
    if (isManifestDescriptor(blob)) {
      const child = await sendManifestContent(layout, client, repository, blob);
      if ((await client.headManifest(repository, blob.digest))?.digest !== blob.digest) await client.putManifest(repository, blob.digest, child, blob.mediaType);
      continue;
    }
    if (await client.hasBlob(repository, blob, [`repository:${repository}:pull,push`])) continue;
    await client.pushBlob(repository, blob, () => layout.openBlob(blob));
  }
  return bytes;
}

function extra(descriptor: Descriptor): Partial<Descriptor> {
  return {
    ...(descriptor.artifactType !== undefined ? { artifactType: descriptor.artifactType } : {}),
    ...(descriptor.annotations !== undefined ? { annotations: descriptor.annotations } : {}),
  };
}

function record(referrer: StoredReferrer): ReferrerRecord {
  return { subject: referrer.subject, digest: referrer.descriptor.digest, artifactType: referrer.descriptor.artifactType };
}
