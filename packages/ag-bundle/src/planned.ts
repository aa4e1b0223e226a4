import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTAINERD_NAME_ANNOTATION, MissingError, normalizeReference, parseManifest, REF_NAME_ANNOTATION, withContext, type AgDocument } from '@ag/core';
import { unsafePathReason } from './entry-path.js';

/** Something the document plans for the bundle that the root does not hold. */
export interface AbsentItem {
  kind: 'file' | 'image';
  /** A path relative to the root, or an image reference. */
  item: string;
  /** Which part of the document plans it. */
  plannedBy: string;
}

/** The canonical form of a reference, or the text itself when it does not parse (then only an exact match counts). */
function canonical(ref: string): string {
  try {
    return normalizeReference(ref);
  } catch {
    return ref;
  }
}

/** The files the document plans, each with the section that plans it. */
function plannedFiles(document: AgDocument): { path: string; plannedBy: string }[] {
  const planned = (document.fetch?.files ?? []).map((file) => ({ path: file.path, plannedBy: `fetch.files (${file.name})` }));
  const packages = document.packages;
  for (const pkg of packages?.closure ?? []) planned.push({ path: pkg.path, plannedBy: `packages.closure (${pkg.name})` });
  for (const key of packages?.keys ?? []) planned.push({ path: key, plannedBy: 'packages.keys' });
  return planned.filter((file) => unsafePathReason(file.path) === undefined);
}

/** Every reference named in the index.json of the layouts in the root. */
async function storedReferences(root: string, layouts: string[]): Promise<Set<string>> {
  const stored = new Set<string>();
  for (const layout of layouts) {
    const path = join(layout, 'index.json');
    let manifests;
    try {
      const parsed = parseManifest(await readFile(join(root, path)), undefined, path);
      manifests = parsed.kind === 'index' ? parsed.index.manifests : [];
    } catch (error) {
      throw withContext(`reading the image layout ${layout || '.'}`, error);
    }
    for (const descriptor of manifests) {
      for (const key of [REF_NAME_ANNOTATION, CONTAINERD_NAME_ANNOTATION]) {
        const ref = descriptor.annotations?.[key];
        if (ref !== undefined) stored.add(canonical(ref));
      }
    }
  }
  return stored;
}

/**
 * What the document plans that the root lacks: every file of `fetch.files`,
 * every OS package of `packages.closure` and key of `packages.keys`, the
 * local package repository, and every image of `fetch.images` (named in a
 * layout's index.json, by its canonical reference). A document straight
 * from `ag-fetch plan`, whose files were never downloaded, lacks them all.
 */
export async function absentPlanned(document: AgDocument, root: string, paths: ReadonlySet<string>, layouts: string[]): Promise<AbsentItem[]> {
  const absent: AbsentItem[] = [];
  for (const file of plannedFiles(document)) {
    if (!paths.has(file.path)) absent.push({ kind: 'file', item: file.path, plannedBy: file.plannedBy });
  }
  const repository = document.packages?.repository;
  if (repository !== undefined && unsafePathReason(repository) === undefined && ![...paths].some((path) => path.startsWith(`${repository}/`))) {
    absent.push({ kind: 'file', item: `${repository}/`, plannedBy: 'packages.repository' });
  }
  const images = document.fetch?.images ?? [];
  if (images.length > 0) {
    const stored = await storedReferences(root, layouts);
    for (const image of images) {
      if (!stored.has(canonical(image.ref))) absent.push({ kind: 'image', item: image.ref, plannedBy: `fetch.images (${image.role})` });
    }
  }
  return absent;
}

/** The refusal for absent items (exit 5): every one named, on its own line, with what brings it. */
export function absentError(absent: AbsentItem[], root: string): MissingError {
  const files = absent.filter((entry) => entry.kind === 'file').length;
  const images = absent.length - files;
  const counts = [files > 0 ? `${files} file(s)` : '', images > 0 ? `${images} image(s)` : ''].filter(Boolean).join(' and ');
  const remedies = [files > 0 ? 'ag-fetch download' : '', images > 0 ? 'ag-images pull' : ''].filter(Boolean).join(' and ');
  return new MissingError(`${root} lacks ${counts} the document plans:\n  ${absent.map((entry) => `${entry.item} (${entry.plannedBy})`).join('\n  ')}`, {
    hint: `run ${remedies} into ${root} first; nothing was written`,
    details: { absent },
  });
}
