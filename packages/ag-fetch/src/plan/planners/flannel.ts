import { normalizeReference, parseReference, UsageError, type PlannedImage } from '@ag/core';
import { pinnedTextFile, type Planner } from '../context.js';
import type { VersionSource } from '../version-source.js';
import { DATA_FILES, FLANNEL_MANIFEST_URL, flannelTableImages, TABLES_CHECKED } from '../versions.js';

/** Every `image:` in a manifest, in order, without duplicates. */
export function manifestImages(manifest: string): string[] {
  const images: string[] = [];
  for (const match of manifest.matchAll(/^\s*(?:-\s*)?image:\s*["']?([^"'\s#]+)["']?\s*(?:#.*)?$/gm)) {
    const ref = normalizeReference(match[1]!);
    if (!images.includes(ref)) images.push(ref);
  }
  return images;
}

function withTag(ref: string, tag: string): string {
  const parsed = parseReference(ref);
  return `${parsed.registry}/${parsed.repository}:${tag}`;
}

function componentOf(ref: string): string {
  return parseReference(ref).repository.split('/').pop() ?? ref;
}

/**
 * flannel's manifest from the release (never the `master` branch file, so two
 * runs carry the same bytes), pinned to what plan fetched, and its images as
 * the manifest names them; without network, the images come from the table.
 * `--component flannel-cni-plugin=TAG` overrides the CNI plugin image's tag.
 */
export const flannelPlanner: Planner = {
  name: 'flannel',
  async plan(context) {
    const version = context.components['flannel']!;
    const { artifact, text } = await pinnedTextFile(context, {
      name: 'kube-flannel.yml',
      kind: 'manifest',
      version,
      upstreamUrl: FLANNEL_MANIFEST_URL(version),
      path: 'files/manifests/kube-flannel.yml',
      note: `flannel ${version} release manifest; ag-flannel renders it with the cluster's pod subnet`,
    });
    let refs: string[];
    let origin: string;
    let source: VersionSource;
    if (text !== undefined) {
      refs = manifestImages(text);
      origin = `kube-flannel.yml of flannel ${version}`;
      source = { from: 'manifest', detail: FLANNEL_MANIFEST_URL(version) };
      if (refs.length === 0) throw new UsageError(`planning flannel ${version}: its kube-flannel.yml names no image`);
    } else {
      const table = flannelTableImages(version);
      if (table === undefined) {
        throw new UsageError(`planning flannel ${version}: ${DATA_FILES.flannel} does not list it, and --no-checksums forbids fetching its manifest`, {
          hint: 'plan with network (or a mirror), or use a flannel version the table lists',
        });
      }
      refs = [table.cniPlugin, table.flannel];
      origin = `${DATA_FILES.flannel} (no network: manifest not read)`;
      source = { from: 'table', detail: `${DATA_FILES.flannel}, flannel ${version} (no network: manifest not read)`, checked: TABLES_CHECKED };
    }
    const override = context.request.components['flannel-cni-plugin'];
    const components: Record<string, string> = {};
    const versionSources: Record<string, VersionSource> = {};
    const images: PlannedImage[] = refs.map((ref) => {
      const component = componentOf(ref);
      if (component === 'flannel-cni-plugin' && override !== undefined) {
        components[component] = override;
        versionSources[component] = { from: 'flag', detail: `--component flannel-cni-plugin=${override}` };
        return { ref: withTag(ref, override), role: 'cni', component, origin: '--component flannel-cni-plugin' };
      }
      const tag = parseReference(ref).tag;
      if (tag !== undefined && component !== 'flannel') {
        components[component] = tag;
        versionSources[component] = source;
      }
      return { ref, role: 'cni', component, origin };
    });
    return { files: [artifact], images, components, versionSources };
  },
};
