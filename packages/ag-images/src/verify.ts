import { OciLayout, assertVerified, removeCorruptBlobs, verifyLayout, type StoredImage, type VerifyReport } from '@ag/core';

export interface VerifyImagesOptions {
  layoutDir: string;
  /** The images the document says the layout holds: each must be named there with that digest. */
  expected?: Pick<StoredImage, 'ref' | 'digest'>[];
  /** Only structure and sizes, no re-hashing. */
  quick?: boolean;
  /** Delete blobs whose content does not match their name, so the next pull fetches them again. */
  repair?: boolean;
  onBlob?: (digest: string, size: number) => void;
}

export interface VerifyImagesResult extends VerifyReport {
  /** Blobs deleted by `repair`. */
  removed: string[];
}

/**
 * Verifies a layout end to end (see verifyLayout: every blob re-hashed,
 * every manifest's references present with their sizes) and that the images
 * the document names are there under those digests. Throws a
 * VerificationError (exit 3) naming the first bad digest; with `repair`, first
 * deletes corrupt blobs so that a pull can replace them.
 */
export async function verifyImages(options: VerifyImagesOptions): Promise<VerifyImagesResult> {
  const layout = await OciLayout.open(options.layoutDir);
  const report = await verifyLayout(layout, {
    rehash: !options.quick,
    ...(options.onBlob ? { onBlob: options.onBlob } : {}),
  });
  if (options.expected !== undefined) {
    const entries = await layout.entries();
    for (const image of options.expected) {
      const entry = entries.find((e) => e.ref === image.ref);
      if (entry === undefined) report.problems.push({ digest: image.digest, problem: 'is not named in index.json', ref: image.ref });
      else if (entry.descriptor.digest !== image.digest) {
        report.problems.push({ digest: image.digest, problem: `is named ${entry.descriptor.digest} in index.json, not as the document says`, ref: image.ref });
      }
    }
  }
  const removed = options.repair ? await removeCorruptBlobs(layout, report) : [];
  assertVerified(report, `verifying the layout ${layout.dir}`);
  return { ...report, removed };
}
