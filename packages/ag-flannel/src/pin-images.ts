import { access } from 'node:fs/promises';
import { join } from 'node:path';
import {
  formatReference,
  internalReference,
  MissingError,
  parseReference,
  parseRegistryTarget,
  registryTargetOf,
  UsageError,
  type AgDocument,
  type ImagesSection,
  type RegistryTarget,
  type StoredImage,
} from '@ag/core';

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
 * `name:tag@sha256:…` for an image reference in the manifest, from the
 * document's `images` section. The name stays upstream's, as written
 * (containerd's mirrors serve it), unless a registry target is given: then
 * it is the image's name there, `<host>[/<prefix>]/<upstream host>/<path>:<tag>`,
 * where ag-images push put it. An image the document does not hold is a
 * MissingError naming it: rendering must not produce a manifest that pulls
 * something the far side lacks.
 */
export function pinnedReference(ref: string, images: ImagesSection | undefined, target?: RegistryTarget): string {
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
  const name = target === undefined ? bare : formatReference({ ...internalReference(parseReference(bare), target), digest: undefined });
  return `${name}@${pinDigest(stored)}`;
}

/**
 * The registry `--registry` names for the pinned references: `internal` is
 * the document's registry section (endpoint and prefix), anything else
 * `HOST[:PORT][/PREFIX]`; undefined keeps upstream names.
 */
export function pinTarget(document: AgDocument, option: string | undefined): RegistryTarget | undefined {
  if (option === undefined) return undefined;
  if (option.trim() !== 'internal') return parseRegistryTarget(option);
  const target = registryTargetOf(document.registry);
  if (target === undefined) {
    throw new UsageError('--registry internal needs the document\'s registry section, and it has none', {
      hint: "pipe the document ag-registry up or ag-registry trust --registry wrote, or name the registry: --registry HOST[:PORT][/PREFIX]",
    });
  }
  return target;
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
