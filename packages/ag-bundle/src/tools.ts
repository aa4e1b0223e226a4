import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingError } from '@ag/core';

/** A self-contained ag tool file (esbuild's bundle of a tool's bin.ts). */
export interface ToolFile {
  /** e.g. ag-bundle */
  name: string;
  /** Where it is here: pack streams its bytes from this file into the archive. */
  source: string;
  /** Where it goes in the bundle, relative to the bundle root (`tools/ag-bundle.mjs`). */
  bundlePath: string;
}

/** The README pack carries beside the tools. */
export const TOOLS_README = 'tools/README.txt';

const TOOL_FILE = /^ag-[a-z0-9-]+\.mjs$/;

async function toolsIn(dir: string): Promise<ToolFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const found: ToolFile[] = [];
  for (const name of names.filter((n) => TOOL_FILE.test(n)).sort()) {
    const source = join(dir, name);
    if ((await stat(source)).isFile()) found.push({ name: name.slice(0, -4), source, bundlePath: `tools/${name}` });
  }
  return found;
}

/**
 * The ag tools to carry in the bundle's `tools/`. With `dir`, every
 * `ag-*.mjs` in it. Otherwise found from where this code runs: next to it
 * (the bundle's own `tools/`, when packing again on the far side) and each
 * workspace package's `dist/` (`npm run build` writes them). Never the
 * TypeScript sources: only bundled files run on a host with Node alone.
 */
export async function discoverTools(dir?: string): Promise<ToolFile[]> {
  if (dir !== undefined) {
    const found = await toolsIn(resolve(dir));
    if (found.length === 0) throw new MissingError(`no ag tools (ag-*.mjs) in ${dir}`, { hint: 'run npm run build, then pass packages/*/dist or leave out --tools' });
    return found;
  }
  const here = dirname(fileURLToPath(import.meta.url));
  const byName = new Map<string, ToolFile>();
  if (basename(here) !== 'src') for (const tool of await toolsIn(here)) byName.set(tool.name, tool);
  const packages = join(here, '..', '..');
  let siblings: string[] = [];
  try {
    siblings = (await readdir(packages)).filter((name) => name.startsWith('ag-')).sort();
  } catch {
    siblings = [];
  }
  for (const name of siblings) {
    for (const tool of await toolsIn(join(packages, name, 'dist'))) if (!byName.has(tool.name)) byName.set(tool.name, tool);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The README carried as `tools/README.txt`: how to run the tools on the far side. */
export function toolsReadme(tools: ToolFile[]): string {
  return [
    'The ag tools, each one self-contained JavaScript file. They need Node.js 20 or later and nothing else.',
    '',
    'Check the bundle before trusting anything in it (coreutils alone, in the unpacked root):',
    '  sha256sum -c SHA256SUMS',
    '  openssl dgst -sha256 -verify PUB.pem -signature SHA256SUMS.sig SHA256SUMS',
    '',
    'Then run a tool with node:',
    ...tools.map((tool) => `  node ${tool.bundlePath} --help`),
    '',
    'For example, verify and unpack a bundle before anything else:',
    '  node tools/ag-bundle.mjs verify bundle.tar --key PUB.pem',
    '  node tools/ag-bundle.mjs unpack bundle.tar --dir /srv/ag --key PUB.pem > doc.json',
    '',
    'No Node.js on this host? Carry it in the bundle: the official tarball',
    '(node-v20.*-linux-x64.tar.xz, fetched with ag-fetch --file) or the distribution package',
    '(Debian/Ubuntu nodejs, Fedora nodejs) in files/ or packages/, then:',
    '  tar -xJf files/node-v20.*-linux-x64.tar.xz -C /opt',
    '  /opt/node-v20.*-linux-x64/bin/node tools/ag-bundle.mjs --help',
    '',
  ].join('\n');
}
