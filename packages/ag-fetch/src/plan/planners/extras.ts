import type { FileArtifact, PlannedImage } from '@ag/core';
import { sourceFor } from '../../mirrors.js';
import type { Planner } from '../context.js';

/** The registry image that ag-registry runs on the far side. */
export const registryImagePlanner: Planner = {
  name: 'registry-image',
  async plan(context) {
    const version = context.components['registry']!;
    return { images: [{ ref: `docker.io/library/registry:${version}`, role: 'registry', component: 'registry', origin: 'default' }] };
  },
};

/** `--file URL[#sha256=HEX]` and `--image REF`: what the operator adds by hand. */
export const extrasPlanner: Planner = {
  name: 'extras',
  async plan(context) {
    const files: FileArtifact[] = context.request.files.map((file) => {
      const name = decodeURIComponent(new URL(file.url).pathname.split('/').pop() ?? 'file');
      return {
        name,
        kind: 'file',
        source: sourceFor(file.url, context.mirrors),
        path: `files/extra/${name}`,
        ...(file.sha256 === undefined ? {} : { sha256: file.sha256, sha256From: 'flag' as const }),
      };
    });
    const images: PlannedImage[] = context.request.images.map((ref) => ({ ref, role: 'extra', origin: '--image' }));
    return { files, images };
  },
};
