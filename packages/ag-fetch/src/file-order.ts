import type { FileArtifact } from '@ag/core';

const FILE_KEYS: readonly (keyof FileArtifact)[] = ['name', 'kind', 'arch', 'version', 'source', 'sha256', 'sha256From', 'size', 'path', 'install', 'note'];

/** A file's fields in one reading order (what it is, where from, what it must hash to, where it goes). */
export function canonicalFile(file: FileArtifact): FileArtifact {
  const ordered: Record<string, unknown> = {};
  for (const key of FILE_KEYS) if (file[key] !== undefined) ordered[key] = file[key];
  for (const [key, value] of Object.entries(file)) if (!(key in ordered) && value !== undefined) ordered[key] = value;
  return ordered as FileArtifact;
}
