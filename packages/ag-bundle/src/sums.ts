import { unsafePathReason } from './entry-path.js';

/** The file names at a bundle's root that ag-bundle writes itself. */
export const SUMS_FILE = 'SHA256SUMS';
export const SIGNATURE_FILE = 'SHA256SUMS.sig';
export const DOCUMENT_FILE = 'bundle.json';
/** These three are never taken from the packed directory: pack writes them anew. */
export const GENERATED_FILES: readonly string[] = [SUMS_FILE, SIGNATURE_FILE, DOCUMENT_FILE];

/**
 * How many files a bundle holds, by the one definition pack, verify, inspect
 * and the document (bundle.contents.files) share: the paths SHA256SUMS lists
 * other than bundle.json. The payload, that is: the document and the two
 * files that describe the rest are not counted; a delta's files the far side
 * supplies are (SHA256SUMS lists them).
 */
export function payloadCount(listed: Iterable<string>): number {
  let count = 0;
  for (const path of listed) if (!GENERATED_FILES.includes(path)) count += 1;
  return count;
}

/** The most SHA256SUMS may weigh before verify refuses to hold it (about 700 000 lines). */
export const MAX_SUMS_BYTES = 64 * 1024 * 1024;

export interface SumsEntry {
  path: string;
  sha256: string;
}

/**
 * SHA256SUMS text in GNU coreutils' format, `<hex>  <path>` per line, sorted
 * by path (byte order), so `sha256sum -c SHA256SUMS` in the bundle root
 * checks every file.
 */
export function renderSums(entries: Iterable<SumsEntry>): string {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return sorted.map((entry) => `${entry.sha256}  ${entry.path}\n`).join('');
}

/** A SHA256SUMS line that cannot be read, or that names an unsafe path. */
export interface SumsProblem {
  line: number;
  message: string;
}

/**
 * Reads SHA256SUMS: each line `<64 hex>  <path>` (or `<hex> *<path>`, the
 * binary marker). Collects every malformed or unsafe line and every
 * duplicate instead of stopping at the first.
 */
export function parseSums(text: string): { entries: Map<string, string>; problems: SumsProblem[] } {
  const entries = new Map<string, string>();
  const problems: SumsProblem[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, index) => {
    const match = /^([a-f0-9]{64}) [ *](.+)$/.exec(line);
    if (match === null) {
      problems.push({ line: index + 1, message: `line ${index + 1} is not "<sha256>  <path>"` });
      return;
    }
    const [, sha256, path] = match as unknown as [string, string, string];
    const unsafe = unsafePathReason(path);
    if (unsafe !== undefined) {
      problems.push({ line: index + 1, message: `line ${index + 1} names ${JSON.stringify(path)}, which is not allowed: ${unsafe}` });
      return;
    }
    if (entries.has(path)) {
      problems.push({ line: index + 1, message: `line ${index + 1} names ${path} a second time` });
      return;
    }
    entries.set(path, sha256);
  });
  return { entries, problems };
}
