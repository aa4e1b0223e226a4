import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingError, parseReference, formatReference, type ImagesSection, type StoredImage } from '@ag/core';

/** `docker.io/flannel/flannel:v0.22.0` and `flannel/flannel:v0.22.0` are the same image. */
function key(ref: string): string {
  const parsed = parseReference(ref);
  return formatReference({ registry: parsed.registry, repository: parsed.repository, tag: parsed.tag ?? 'latest' });
}

/**
 * The digest to pin a stored image by: the one the layout's index.json names
 * (`digest`). When only one platform of a multi-platform image was kept, its
 * manifest's digest: nodes then resolve exactly that manifest.
 */
export function pinDigest(image: StoredImage): string {
  if (image.partial && image.manifests.length === 1) return image.manifests[0]!.digest;
  return image.digest;
}

/**
 * `name:tag@sha256:…` for an image reference in the manifest, as written
 * (the name stays upstream's; containerd's mirrors serve it), from the
 * document's `images` section. An image the document does not hold is a
 * MissingError naming it: rendering must not produce a manifest that pulls
 * something the far side lacks.
 */
export function pinnedReference(ref: string, images: ImagesSection | undefined): string {
  const bare = ref.split('@')[0]!;
  const wanted = parseReference(ref);
  const stored = (images?.images ?? []).find((image) => {
    if (wanted.tag === undefined && wanted.digest !== undefined) return image.digest === wanted.digest || image.manifests.some((m) => m.digest === wanted.digest);
    return key(image.ref) === key(bare);
  });
  if (stored === undefined) {
    throw new MissingError(`the manifest uses ${ref}, which the document's images section does not hold`, {
      hint: 'add it to the plan (ag-fetch plan lists the CNI images) and run ag-images pull, then render again',
    });
  }
  return `${bare}@${pinDigest(stored)}`;
}

/** Checks that the layout holds the blob a pinned reference names (when the layout is on this machine). */
export async function assertInLayout(layoutDir: string, pinned: string): Promise<void> {
  const digest = pinned.split('@')[1]!;
  const blob = join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  try {
    await access(blob);
  } catch {
    throw new MissingError(`${pinned} is not in the image layout ${layoutDir} (no ${blob})`, {
      hint: 'the document and the layout disagree: run ag-images pull again, or ag-bundle verify the bundle',
    });
  }
}
