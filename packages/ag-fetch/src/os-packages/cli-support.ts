import { resolve } from 'node:path';

/**
 * `--no-package NAME` as yargs would read it is the negation of `--package`
 * followed by a stray NAME; `--no-package=NAME` is read as meant. Joins the
 * two-word form into the one-word form before parsing.
 */
export function joinNoPackageValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    const next = argv[i + 1];
    if (word === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (word === '--no-package' && next !== undefined && !next.startsWith('-')) {
      out.push(`--no-package=${next}`);
      i++;
    } else out.push(word);
  }
  return out;
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)]);

/** The OS package adjustments of `plan`'s flags (`--package` may be repeated or comma-separated). */
export function osPackageFlags(args: Record<string, unknown>): { add: string[]; remove: string[] } {
  const split = (values: string[]): string[] => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return { add: split(list(args['package']).filter((v) => v !== 'false')), remove: split(list(args['no-package'])) };
}

export interface OsPackagesCliContext {
  io: import('@ag/core').Io;
  log: import('@ag/core').Logger;
  args: Record<string, unknown>;
}

/**
 * `ag-fetch download`'s OS packages step: resolves the document's `packages`
 * section into the bundle (baseline from --inventory or --baseline-status,
 * else a minimal install) and returns the document with the section
 * completed. A document without a packages section passes through.
 * (`download --dry-run` plans them instead: dry-run.ts.)
 */
export async function downloadDocumentOsPackages(
  document: import('@ag/core').AgDocument,
  bundleRoot: string,
  { io, log, args }: OsPackagesCliContext,
): Promise<import('@ag/core').AgDocument> {
  if (document.packages === undefined) return document;
  // Loaded only when there are packages to resolve.
  const [{ UsageError }, { downloadOsPackages }] = await Promise.all([import('@ag/core'), import('./download-os-packages.js')]);
  const inventory = typeof args['inventory'] === 'string' ? resolve(io.cwd, args['inventory']) : undefined;
  const status = typeof args['baseline-status'] === 'string' ? resolve(io.cwd, args['baseline-status']) : undefined;
  if (inventory !== undefined && status !== undefined) throw new UsageError('give --inventory or --baseline-status, not both');
  const baseline = inventory !== undefined ? { kind: 'inventory' as const, file: inventory } : status !== undefined ? { kind: 'status' as const, file: status } : { kind: 'minimal' as const };
  const packages = await downloadOsPackages(document.packages, {
    io,
    log,
    bundleRoot,
    baseline,
    ...(document.cluster?.kubernetesVersion === undefined ? {} : { kubernetesVersion: document.cluster.kubernetesVersion }),
    ...(typeof args['packages-cache'] === 'string' ? { cacheDir: resolve(io.cwd, args['packages-cache']) } : {}),
  });
  return { ...document, packages };
}
