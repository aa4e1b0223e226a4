import type { ServerResponse } from 'node:http';
import { isManifestDescriptor, MediaType, REFERRER_SUBJECT_ANNOTATION, referrerEntries, walkImages, type Descriptor, type OciLayout } from '@ag/core';
import type { Repository } from './catalog.js';

/**
 * Referrers (signatures, SBOMs) the layout holds, served by the referrers API
 * (distribution-spec 1.1, "Listing Referrers"). ag-images pull
 * --with-referrers stores them as unnamed index.json entries naming their
 * subject (core's oci/referrers.ts); each is served in every repository whose
 * images reach its subject, and so are referrers of referrers.
 */
export async function addReferrersToCatalog(layout: OciLayout, manifests: Descriptor[], repositories: Map<string, Repository>, skipped: string[]): Promise<void> {
  const pending = referrerEntries(manifests);
  for (let progress = true; progress && pending.length > 0; ) {
    progress = false;
    for (const referrer of [...pending]) {
      const holders = [...repositories.values()].filter((r) => r.manifests.has(referrer.subject));
      if (holders.length === 0) continue;
      pending.splice(pending.indexOf(referrer), 1);
      progress = true;
      const missing: Descriptor[] = [];
      const walked = await walkImages(layout, [referrer.descriptor], { missing });
      if (missing.length > 0) {
        skipped.push(`referrer ${referrer.descriptor.digest} of ${referrer.subject}: ${missing[0]!.digest} is not in the layout`);
        continue;
      }
      const { [REFERRER_SUBJECT_ANNOTATION]: _ours, ...annotations } = referrer.descriptor.annotations ?? {};
      const listed: Descriptor = { ...referrer.descriptor, annotations };
      if (Object.keys(annotations).length === 0) delete listed.annotations;
      for (const repository of holders) {
        for (const [digest, parsed] of walked.manifests) repository.manifests.set(digest, parsed.mediaType);
        for (const [digest, reached] of walked.descriptors) if (!isManifestDescriptor(reached)) repository.blobs.add(digest);
        const list = repository.referrers.get(referrer.subject) ?? [];
        if (!list.some((d) => d.digest === listed.digest)) list.push(listed);
        repository.referrers.set(referrer.subject, list);
      }
    }
  }
  for (const referrer of pending) skipped.push(`referrer ${referrer.descriptor.digest}: its subject ${referrer.subject} is not served`);
}

/**
 * `GET /v2/<name>/referrers/<digest>[?artifactType=…]`: an image index of the
 * subject's referrers (empty when it has none), filtered by artifactType when
 * asked, saying so in `OCI-Filters-Applied`.
 */
export function serveReferrers(res: ServerResponse, head: boolean, repository: Repository, subject: string, url: URL): void {
  const artifactType = url.searchParams.get('artifactType');
  let manifests = repository.referrers.get(subject) ?? [];
  if (artifactType !== null) manifests = manifests.filter((d) => d.artifactType === artifactType);
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
  res.writeHead(200, {
    'content-type': MediaType.ociIndex,
    'content-length': bytes.length,
    ...(artifactType !== null ? { 'oci-filters-applied': 'artifactType' } : {}),
  });
  res.end(head ? undefined : bytes);
}
