import { AgError, VerificationError } from '../errors.js';
import { digestHex, sha256Digest, type Descriptor } from '../oci/descriptor.js';
import { parseManifest, type ParsedManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import type { RegistryClient } from './client.js';

/**
 * Referrers: manifests that name another manifest as their `subject`
 * (signatures, SBOMs, attestations; image-spec manifest.md, "subject").
 * A registry with the referrers API lists them at
 * `GET /v2/<name>/referrers/<digest>` as an image index; one without it
 * (distribution 2.x answers 404) keeps the same index under the "referrers
 * tag schema" `<alg>-<hex>` (distribution-spec 1.1, "Unavailable Referrers
 * API"), which the client that pushes a referrer must maintain.
 */

/** How the spec stores a subject's referrers on a registry without the API: `sha256-<hex>` (the hex is at most 64 characters). */
export function referrersTag(subject: string): string {
  return `sha256-${digestHex(subject).slice(0, 64)}`;
}

/** The subject a manifest or index names, if any. */
export function subjectOf(parsed: ParsedManifest): Descriptor | undefined {
  return parsed.kind === 'index' ? parsed.index.subject : parsed.manifest.subject;
}

/**
 * The descriptor a referrers index lists for a manifest: its artifactType
 * (the manifest's own, else its config's media type, as the spec says) and
 * its annotations.
 */
export function referrerDescriptor(bytes: Buffer, parsed: ParsedManifest): Descriptor {
  const own = parsed.kind === 'index' ? parsed.index : parsed.manifest;
  const artifactType = own.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
  return {
    mediaType: parsed.mediaType,
    digest: sha256Digest(bytes),
    size: bytes.length,
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(own.annotations !== undefined ? { annotations: own.annotations } : {}),
  };
}

/** At most this many pages of referrers are read for one subject (a registry that pages forever is not followed). */
const MAX_PAGES = 100;

/**
 * The referrers of `subject` in `repository`: from the referrers API, or,
 * when the registry answers 404 there, from the referrers tag (none when that
 * tag does not exist either). `via` says which.
 */
export async function listReferrers(client: RegistryClient, repository: string, subject: string): Promise<{ descriptors: Descriptor[]; via: 'api' | 'tag' }> {
  const where = `the referrers of ${client.registry}/${repository}@${subject}`;
  const descriptors: Descriptor[] = [];
  let page = await client.getReferrersPage(repository, subject);
  if (page !== undefined) {
    for (let pages = 1; page !== undefined; pages += 1) {
      descriptors.push(...indexManifests(page.bytes, where));
      if (page.next === undefined || pages >= MAX_PAGES) break;
      page = await client.getReferrersPage(repository, subject, page.next);
    }
    return { descriptors: unique(descriptors), via: 'api' };
  }
  const tagged = await referrersTagIndex(client, repository, subject);
  return { descriptors: tagged ?? [], via: 'tag' };
}

/**
 * Pushes a referrer manifest by its digest (its subject must be there
 * already) and, when the registry does not say it indexed the subject (no
 * `OCI-Subject` header), adds it to the subject's referrers tag index, as the
 * spec requires of clients. Returns whether the tag was written.
 */
export async function pushReferrer(client: RegistryClient, repository: string, bytes: Buffer, mediaType: string): Promise<{ digest: string; tagged: boolean }> {
  const parsed = parseManifest(bytes, mediaType, 'referrer');
  const subject = subjectOf(parsed);
  if (subject === undefined) throw new VerificationError(`manifest ${sha256Digest(bytes)} names no subject: it is not a referrer`);
  const put = await client.putManifestReporting(repository, sha256Digest(bytes), bytes, parsed.mediaType);
  if (put.subject === subject.digest) return { digest: put.digest, tagged: false };
  const descriptor = referrerDescriptor(bytes, parsed);
  const current = (await referrersTagIndex(client, repository, subject.digest)) ?? [];
  if (current.some((d) => d.digest === descriptor.digest)) return { digest: put.digest, tagged: false };
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...current, descriptor] };
  await client.putManifest(repository, referrersTag(subject.digest), Buffer.from(JSON.stringify(index)), MediaType.ociIndex);
  return { digest: put.digest, tagged: true };
}

/** The manifests of the subject's referrers tag index, or undefined when there is no such tag. */
async function referrersTagIndex(client: RegistryClient, repository: string, subject: string): Promise<Descriptor[] | undefined> {
  try {
    const fetched = await client.getManifest(repository, referrersTag(subject), MediaType.ociIndex);
    return indexManifests(fetched.bytes, `${client.registry}/${repository}:${referrersTag(subject)}`);
  } catch (error) {
    if (error instanceof AgError && error.kind === 'missing') return undefined;
    throw error;
  }
}

function indexManifests(bytes: Buffer, where: string): Descriptor[] {
  const parsed = parseManifest(bytes, MediaType.ociIndex, where);
  if (parsed.kind !== 'index') throw new VerificationError(`${where}: not an image index`);
  return parsed.index.manifests;
}

function unique(descriptors: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descriptors.filter((d) => !seen.has(d.digest) && seen.add(d.digest) !== undefined);
}
