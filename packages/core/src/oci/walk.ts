import { MissingError } from '../errors.js';
import type { Descriptor } from './descriptor.js';
import type { OciLayout } from './layout.js';
import { childDescriptors, isManifestDescriptor, type ParsedManifest } from './manifest.js';
import { isNondistributable } from './media-types.js';

/** Everything an image (or several) reaches in a layout. */
export interface ImageGraph {
  /** Every descriptor reached, by digest: the roots, manifests, indexes, configs, layers. */
  descriptors: Map<string, Descriptor>;
  /** Manifests and indexes reached, parsed, by digest. */
  manifests: Map<string, ParsedManifest>;
  /** Non-distributable layers that are not stored (left as references to their URLs). */
  foreign: Descriptor[];
}

export interface WalkOptions {
  /** What to do with an absent blob: throw (default) or collect it in `missing`. */
  missing?: 'throw' | Descriptor[];
}

/**
 * Walks from `roots` through indexes and manifests in the layout and collects
 * every descriptor reached, each once. A stored blob is not re-hashed here
 * (verify does that); manifests are read verified. An absent non-distributable
 * layer is expected and listed in `foreign`; any other absent blob is a
 * MissingError naming its digest, unless `missing` collects them.
 */
export async function walkImages(layout: OciLayout, roots: Descriptor[], options: WalkOptions = {}): Promise<ImageGraph> {
  const graph: ImageGraph = { descriptors: new Map(), manifests: new Map(), foreign: [] };
  const queue = [...roots];
  while (queue.length > 0) {
    const descriptor = queue.shift()!;
    if (graph.descriptors.has(descriptor.digest)) continue;
    graph.descriptors.set(descriptor.digest, descriptor);
    const stored = await layout.blobSize(descriptor.digest);
    if (stored === undefined) {
      if (isNondistributable(descriptor.mediaType)) {
        graph.foreign.push(descriptor);
        continue;
      }
      if (Array.isArray(options.missing)) {
        options.missing.push(descriptor);
        continue;
      }
      throw new MissingError(`blob ${descriptor.digest} (${descriptor.mediaType}) is not in the layout ${layout.dir}`, {
        details: { digest: descriptor.digest },
        hint: 'pull the image again (ag-images pull fetches only what is missing)',
      });
    }
    if (!isManifestDescriptor(descriptor)) continue;
    const { parsed } = await layout.readManifest(descriptor);
    graph.manifests.set(descriptor.digest, parsed);
    queue.push(...childDescriptors(parsed));
  }
  return graph;
}
