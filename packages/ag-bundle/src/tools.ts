import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingError, sha256File, tempPathFor, withContext, writeFileAtomic } from '@ag/core';

/** A self-contained ag tool file (esbuild's bundle of a tool's bin.ts). */
export interface ToolFile {
  /** e.g. ag-bundle */
  name: string;
  /** Where it is here. */
  source: string;
}

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
    if ((await stat(source)).isFile()) found.push({ name: name.slice(0, -4), source });
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
    ...tools.map((tool) => `  node tools/${tool.name}.mjs --help`),
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

/**
 * Copies the tools into the root's `tools/` (with tools/README.txt), so the
 * root holds exactly what the bundle carries and its SHA256SUMS checks there
 * too. A tool already there with the same bytes is left alone. Returns the
 * tools as they are in the root.
 */
export async function installTools(root: string, tools: ToolFile[]): Promise<ToolFile[]> {
  const installed: ToolFile[] = [];
  for (const tool of tools) {
    const target = join(root, 'tools', `${tool.name}.mjs`);
    installed.push({ name: tool.name, source: target });
    if (target === tool.source) continue;
    const [have, want] = await Promise.all([sha256File(target).catch(() => undefined), sha256File(tool.source)]);
    if (have?.sha256 === want.sha256) continue;
    const temp = tempPathFor(target);
    try {
      await mkdir(dirname(target), { recursive: true });
      await copyFile(tool.source, temp);
      await chmod(temp, 0o755);
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw withContext(`copying ${tool.name} into ${join(root, 'tools')}`, error);
    }
  }
  const readme = join(root, 'tools', 'README.txt');
  const text = toolsReadme(tools);
  if ((await readFile(readme, 'utf8').catch(() => undefined)) !== text) await writeFileAtomic(readme, text);
  return installed;
}
