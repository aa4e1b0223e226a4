import { join } from 'node:path';
import { MissingError, OciLayout, walkImages, withContext, type Descriptor } from '@ag/core';

/** An OCI image layout inside the bundle root, and what its images reach. */
export interface BundleLayout {
  /** Relative to the root (`images`). */
  path: string;
  /** Digests of every manifest and index reached from index.json. */
  manifests: Set<string>;
  /** Every digest reached (manifests, indexes, configs, layers). */
  reached: Set<string>;
}

/** The layouts among a root's files: each directory holding `oci-layout` and `index.json`. */
export function layoutDirs(paths: Iterable<string>): string[] {
  const all = new Set(paths);
  const dirs: string[] = [];
  for (const path of all) {
    if (path !== 'oci-layout' && !path.endsWith('/oci-layout')) continue;
    const dir = path === 'oci-layout' ? '' : path.slice(0, -'/oci-layout'.length);
    if (all.has(dir === '' ? 'index.json' : `${dir}/index.json`)) dirs.push(dir);
  }
  return dirs.sort();
}

/**
 * Reads a layout's images from index.json down, checking that every blob
 * they reach is stored (a bundle that names a blob it lacks would fail only
 * on the far side). Manifests are read verified; layers are not hashed here
 * (the archive is checked as it is written). Absent non-distributable
 * (foreign) layers are expected and allowed.
 */
export async function readBundleLayout(root: string, path: string): Promise<BundleLayout> {
  const dir = path === '' ? root : join(root, path);
  let index: { manifests: Descriptor[] };
  let layout: OciLayout;
  try {
    layout = await OciLayout.open(dir);
    index = await layout.readIndex();
  } catch (error) {
    throw withContext(`reading the image layout ${path || '.'}`, error);
  }
  const missing: Descriptor[] = [];
  const graph = await walkImages(layout, index.manifests, { missing }).catch((error: unknown) => {
    throw withContext(`reading the images of the layout ${path || '.'}`, error);
  });
  if (missing.length > 0) {
    throw new MissingError(
      `the image layout ${path || '.'} lacks ${missing.length} blob(s) its images need: ${missing
        .slice(0, 5)
        .map((d) => d.digest)
        .join(', ')}${missing.length > 5 ? ', …' : ''}`,
      { hint: 'pull the images again (ag-images pull fetches only what is missing), then pack', details: { missing: missing.map((d) => d.digest) } },
    );
  }
  return { path, manifests: new Set(graph.manifests.keys()), reached: new Set(graph.descriptors.keys()) };
}
