import { basename, resolve } from 'node:path';
import {
  UsageError,
  formatPlatform,
  hostPlatform,
  newDocument,
  parsePlatform,
  relativeToRoot,
  resolveInRoot,
  type AgDocument,
  type ImagesSection,
  type PlatformSpec,
  type StoredImage,
} from '@ag/core';

/** The layout directory: `--layout`, else the document's `images.layout`, else `images/` under its bundle root. */
export function layoutDirFor(document: AgDocument | undefined, flag: string | undefined, cwd: string): string {
  if (flag !== undefined) return resolve(cwd, flag);
  if (document?.root !== undefined) return resolveInRoot(document.root, document.images?.layout ?? 'images');
  throw new UsageError('no layout directory: pass --layout DIR (or pipe in a document that names a bundle root)', {
    hint: 'for example ag-images pull registry.k8s.io/pause:3.9 --layout ./bundle/images',
  });
}

/**
 * The platforms to keep: `--platform` values, else the document's
 * `images.platforms`, else linux/<arch> for each of `cluster.architectures`,
 * else the host's.
 */
export function platformsFor(document: AgDocument | undefined, flags: string[] | undefined): PlatformSpec[] {
  if (flags !== undefined && flags.length > 0) return flags.flatMap((f) => f.split(',')).filter(Boolean).map(parsePlatform);
  if (document?.images?.platforms !== undefined && document.images.platforms.length > 0) return document.images.platforms.map(parsePlatform);
  if (document?.cluster?.architectures !== undefined) return document.cluster.architectures.map((arch) => ({ os: 'linux', architecture: arch }));
  return [hostPlatform()];
}

/**
 * `images.layout` for a layout directory: its path relative to the
 * document's bundle root. A document that names no root gets none from
 * here: a layout's parent is not a bundle (pulling into ~/images must not
 * make a later pack take all of ~), so `layout` is then the directory's own
 * name, and whoever packs or serves it names the root (`--dir`). Checked
 * before any work, so a layout outside the root fails at once (exit 2).
 */
export function layoutInDocument(document: AgDocument | undefined, layoutDir: string): string {
  const root = document?.root;
  if (root === undefined) return basename(layoutDir);
  let layout: string;
  try {
    layout = relativeToRoot(root, layoutDir);
  } catch {
    throw new UsageError(`the layout ${layoutDir} is outside the bundle root ${root}`, {
      hint: 'put the layout under the bundle root (the default is images/ there), or drop --layout',
    });
  }
  if (layout === '') throw new UsageError(`the layout must be a directory under the bundle root ${root}, not the root itself`);
  return layout;
}

/**
 * The document with the `images` section updated: the layout path (see
 * layoutInDocument), the platforms, and the pulled images merged in by
 * reference (images pulled earlier and not now are kept). Without a document
 * a new one is started, naming no bundle root.
 */
export function withImages(document: AgDocument | undefined, layoutDir: string, platforms: string[], images: StoredImage[]): AgDocument {
  const base = document ?? newDocument();
  const layout = layoutInDocument(base, layoutDir);
  const previous = base.images?.layout === layout ? base.images.images : [];
  const merged = [...previous.filter((p) => !images.some((i) => i.ref === p.ref)), ...images];
  const section: ImagesSection = { ...base.images, layout, platforms, images: merged };
  return { ...base, images: section };
}

/** `linux/amd64` strings for the document. */
export function platformStrings(platforms: PlatformSpec[]): string[] {
  return [...new Set(platforms.map(formatPlatform))];
}
