import { MissingError } from '../errors.js';
import type { Descriptor } from './descriptor.js';
import type { OciLayout } from './layout.js';

/**
 * Referrers in a layout (signatures, SBOMs: manifests whose `subject` is an
 * image). The image layout spec lets index.json hold any manifests, named or
 * not; ag keeps a referrer there as an unnamed entry carrying this
 * annotation, whose value is its subject's digest. Tools that look up images
 * by `org.opencontainers.image.ref.name` pass over it; ag's gc keeps it while
 * its subject is in the layout, and drops it with its subject.
 */
export const REFERRER_SUBJECT_ANNOTATION = 'ag.referrer.subject';

/** A referrer stored in a layout: its index.json descriptor and the digest of its subject. */
export interface StoredReferrer {
  subject: string;
  descriptor: Descriptor;
}

/** The referrer entries of index.json. */
export function referrerEntries(manifests: Descriptor[]): StoredReferrer[] {
  return manifests.flatMap((descriptor) => {
    const subject = descriptor.annotations?.[REFERRER_SUBJECT_ANNOTATION];
    return subject === undefined ? [] : [{ subject, descriptor }];
  });
}

/** Whether an index.json entry is a referrer (not an image). */
export function isReferrerEntry(descriptor: Descriptor): boolean {
  return descriptor.annotations?.[REFERRER_SUBJECT_ANNOTATION] !== undefined;
}

/**
 * Records referrers in index.json (their manifests and blobs must be stored
 * first), one entry per referrer and subject, replacing an older entry of
 * the same pair. Other entries stay as they are; nothing is written when
 * nothing changes.
 */
export async function addReferrers(layout: OciLayout, referrers: StoredReferrer[]): Promise<void> {
  for (const { descriptor } of referrers) {
    if (!(await layout.hasBlob(descriptor))) {
      throw new MissingError(`cannot record referrer ${descriptor.digest} in index.json: the blob is not stored`, { details: { digest: descriptor.digest } });
    }
  }
  const key = (subject: string, digest: string): string => `${subject} ${digest}`;
  const wanted = new Map(
    referrers.map(({ subject, descriptor }) => [
      key(subject, descriptor.digest),
      { ...descriptor, annotations: { ...descriptor.annotations, [REFERRER_SUBJECT_ANNOTATION]: subject } },
    ]),
  );
  await layout.updateIndex((manifests) => {
    const current = new Map(referrerEntries(manifests).map((r) => [key(r.subject, r.descriptor.digest), JSON.stringify(r.descriptor)]));
    if ([...wanted].every(([k, d]) => current.get(k) === JSON.stringify(d))) return undefined;
    const kept = manifests.filter((d) => !isReferrerEntry(d) || !wanted.has(key(d.annotations![REFERRER_SUBJECT_ANNOTATION]!, d.digest)));
    return [...kept, ...wanted.values()];
  });
}
