import {
  CONTAINERD_NAME_ANNOTATION,
  hostPlatform,
  MissingError,
  OciLayout,
  REF_NAME_ANNOTATION,
  selectPlatforms,
  UsageError,
  type Descriptor,
  type ImageManifest,
} from '@ag/core';

/**
 * What ag-registry needs of an OCI image layout beyond @ag/core's OciLayout:
 * the image name an index.json entry carries, and one image's manifest for
 * this host's platform. Reads only; never writes a layout.
 */

/**
 * The full image name an index.json entry carries: containerd's annotation
 * first (always a full reference), else the OCI ref.name when it is a full
 * reference (a bare tag there names no repository).
 */
export function entryName(descriptor: Descriptor): string | undefined {
  for (const key of [CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION]) {
    const value = descriptor.annotations?.[key];
    if (value !== undefined && /[/:@]/.test(value) && /^[a-z0-9]/.test(value)) return value;
  }
  return undefined;
}

/**
 * The single-platform manifest of `descriptor` for this host's platform (or
 * `architecture`): the descriptor itself when it is a manifest, the matching
 * entry when it is an index, which must be stored in the layout.
 */
export async function platformManifest(
  layout: OciLayout,
  descriptor: Descriptor,
  architecture = hostPlatform().architecture,
): Promise<{ descriptor: Descriptor; manifest: ImageManifest }> {
  const { parsed } = await layout.readManifest(descriptor);
  if (parsed.kind === 'manifest') return { descriptor, manifest: parsed.manifest };
  const stored: Descriptor[] = [];
  for (const entry of parsed.index.manifests) if ((await layout.blobSize(entry.digest)) !== undefined) stored.push(entry);
  const [chosen] = selectPlatforms(stored, [{ os: 'linux', architecture }]).selected;
  if (chosen === undefined) {
    const have = parsed.index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(', ');
    throw new MissingError(`the image ${descriptor.digest} has no linux/${architecture} manifest in the layout (it has ${have || 'none'})`, {
      hint: `pull it with linux/${architecture} among the platforms (ag-images pull --platform linux/${architecture})`,
    });
  }
  const child = await layout.readManifest(chosen);
  if (child.parsed.kind !== 'manifest') throw new UsageError(`${chosen.digest} in the index ${descriptor.digest} is itself an index`);
  return { descriptor: chosen, manifest: child.parsed.manifest };
}
