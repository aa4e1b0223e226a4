import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Value, type ValueError } from '@sinclair/typebox/value';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { SiteFileSchema, UsageError, jsonPointerToPath, toAgError, withContext, type SiteFile, type SiteFileRecord } from '@ag/core';

/** A site file read and checked: its content, what the document records of it, and where each of its fields is. */
export interface LoadedSite {
  site: SiteFile;
  record: SiteFileRecord;
  /** `site.yaml:12` for a path into the file (the nearest field that exists). */
  where(path: readonly (string | number)[]): string;
}

function describeError(error: ValueError): string {
  const anyOf = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (anyOf !== undefined && anyOf.every((s) => s.const !== undefined)) return `expected one of ${anyOf.map((s) => String(s.const)).join(', ')}, got ${JSON.stringify(error.value)}`;
  if (error.message === 'Unexpected property') return 'not a field of the site file (a misspelling?)';
  if (error.message === 'Expected required property') return 'missing (required)';
  return `${error.message}${error.value === undefined ? '' : `, got ${JSON.stringify(error.value)}`}`;
}

const pointerParts = (pointer: string): string[] =>
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));

/**
 * Reads `ag-fetch plan --site FILE`: YAML (JSON is YAML too), checked
 * against the site file's schema (docs/schema/ag-site.schema.json); every
 * problem is named by file, line and JSON path at once, e.g.
 * `site.yaml:14: $.spec.networks.podSubent: not a field of the site file`.
 * The document records the file's path and SHA-256, so a plan says which
 * description it was made from.
 */
export async function readSiteFile(path: string): Promise<LoadedSite> {
  const bytes = await readFile(path).catch((error: unknown) => {
    throw withContext(`reading the site file ${path}`, error);
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const lineCounter = new LineCounter();
  const yaml = parseDocument(bytes.toString('utf8').replace(/^\uFEFF/, ''), { lineCounter, uniqueKeys: true, prettyErrors: false });
  const hint = 'fix the file (docs/site.md describes every field; docs/schema/ag-site.schema.json is its JSON Schema)';
  if (yaml.errors.length > 0) {
    const lines = yaml.errors.map((e) => {
      const at = lineCounter.linePos(e.pos[0]);
      return `${path}:${at.line}:${at.col}: ${e.message.split('\n')[0]}`;
    });
    throw new UsageError(`the site file is not valid YAML:\n  ${lines.join('\n  ')}`, { hint });
  }
  const where = (parts: readonly (string | number)[]): string => {
    // The nearest node that exists: a missing field is reported where its parent is.
    for (let n = parts.length; n >= 0; n--) {
      const node = yaml.getIn(parts.slice(0, n), true);
      if (isNode(node) && node.range !== undefined && node.range !== null) {
        return `${path}:${lineCounter.linePos(node.range[0]).line}`;
      }
    }
    return `${path}:1`;
  };
  const value: unknown = yaml.toJS();
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const error of Value.Errors(SiteFileSchema, value)) {
    if (seen.has(error.path)) continue; // one line per field: the first thing wrong with it
    seen.add(error.path);
    problems.push(`${where(pointerParts(error.path))}: ${jsonPointerToPath(error.path)}: ${describeError(error)}`);
  }
  if (problems.length > 0) throw new UsageError(`the site file is not valid:\n  ${problems.join('\n  ')}`, { hint });
  const site = value as SiteFile;
  return { site, record: { path, sha256, name: site.metadata.name }, where };
}

/** Runs a flag parser on a site file value, naming the file, line and path when it refuses it. */
export function fromSite<T>(loaded: LoadedSite, path: readonly (string | number)[], parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const agError = toAgError(error);
    if (agError.kind !== 'usage') throw error;
    const pointer = `/${path.join('/')}`;
    throw new UsageError(`${loaded.where(path)}: ${jsonPointerToPath(pointer)}: ${agError.message}`, { hint: agError.hint ?? 'fix the site file (docs/site.md)' });
  }
}
