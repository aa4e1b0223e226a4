import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingError, runningAsExecutable } from '@ag/core';

/**
 * An ag tool file the bundle carries in `tools/`: the single executable `ag`
 * of each architecture (every tool in one file, Node.js built in), or a
 * tool's esbuild bundle `ag-<tool>.mjs` (needs a Node.js on the host).
 */
export interface ToolFile {
  /** `ag` (the executable) or e.g. `ag-bundle` (a .mjs file). */
  name: string;
  /** Where it is here: pack streams its bytes from this file into the archive. */
  source: string;
  /** Where it goes under the bundle root: `tools/<arch>/ag`, `tools/ag-bundle.mjs`. */
  bundlePath: string;
  /** The executable's architecture (amd64, arm64); absent for a .mjs file. */
  arch?: string;
  /** The Node.js built into the executable (`v24.22.3`), when known. */
  node?: string;
  /** A man page or completion script (tools/share/…), not a program: ag-nodeprep installs it. */
  shellFile?: true;
}

/** Where the man pages and completion scripts are under tools/ (core's shellFilePaths). */
export const SHARE_DIR = 'share';

/** Every file under `dir`/share, as tools/share/… (the build writes them beside each tool's .mjs). */
async function shellFilesIn(dir: string): Promise<ToolFile[]> {
  const found: ToolFile[] = [];
  let entries: Array<{ name: string; parentPath: string; isFile(): boolean }>;
  try {
    entries = await readdir(join(dir, SHARE_DIR), { recursive: true, withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries.filter((e) => e.isFile())) {
    const source = join(entry.parentPath, entry.name);
    const relativePath = relative(dir, source).split(sep).join('/');
    found.push({ name: relativePath.slice(SHARE_DIR.length + 1), source, bundlePath: `tools/${relativePath}`, shellFile: true });
  }
  return found.sort((a, b) => (a.bundlePath < b.bundlePath ? -1 : a.bundlePath > b.bundlePath ? 1 : 0));
}

/** The architectures ag's executables are built for, as `tools/<arch>/ag`. */
export const EXECUTABLE_ARCHES = ['amd64', 'arm64'] as const;
const EXECUTABLE = 'ag';

/** The README pack carries beside the tools. */
export const TOOLS_README = 'tools/README.txt';
const TOOL_FILE = /^ag-[a-z0-9-]+\.mjs$/;

const isFile = (path: string): Promise<boolean> => stat(path).then((info) => info.isFile(), () => false);

/** The Node.js inside `<dir>/<arch>/ag`: from the build's build.json beside it, or this process's own when it is that executable. */
async function executableNode(exe: string): Promise<string | undefined> {
  try {
    const build = JSON.parse(await readFile(join(dirname(exe), 'build.json'), 'utf8')) as { node?: unknown };
    if (typeof build.node === 'string') return build.node;
  } catch {
    // no build.json: a bundle's tools/
  }
  return runningAsExecutable() ? process.version : undefined;
}

/** The tools in a directory laid out as the bundle's `tools/` (and `npm run build`'s dist/tools): `<arch>/ag` and `ag-*.mjs`. */
async function toolsIn(dir: string): Promise<ToolFile[]> {
  const found: ToolFile[] = [];
  for (const arch of EXECUTABLE_ARCHES) {
    const source = join(dir, arch, EXECUTABLE);
    if (!(await isFile(source))) continue;
    const node = await executableNode(source);
    found.push({ name: EXECUTABLE, source, bundlePath: `tools/${arch}/${EXECUTABLE}`, arch, ...(node === undefined ? {} : { node }) });
  }
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return found;
  }
  for (const name of names.filter((n) => TOOL_FILE.test(n)).sort()) {
    const source = join(dir, name);
    if (await isFile(source)) found.push({ name: name.slice(0, -4), source, bundlePath: `tools/${name}` });
  }
  found.push(...(await shellFilesIn(dir)));
  return found;
}

/** Where to look when no directory is given, nearest first. */
async function searchDirs(): Promise<string[]> {
  if (runningAsExecutable()) {
    // tools/<arch>/ag: the bundle's tools/ (packing again on the far side), or dist/tools/<arch>/ag in a checkout.
    const tools = dirname(dirname(process.execPath));
    return [tools, ...(await packageDists(join(tools, '..', '..', 'packages')))];
  }
  const here = dirname(fileURLToPath(import.meta.url));
  // Beside this file (the bundle's tools/, running tools/ag-bundle.mjs), then a checkout's dist/tools and packages/*/dist.
  const packages = join(here, '..', '..');
  return [...(basename(here) === 'src' ? [] : [here]), join(packages, '..', 'dist', 'tools'), ...(await packageDists(packages))];
}

async function packageDists(packages: string): Promise<string[]> {
  try {
    return (await readdir(packages))
      .filter((name) => name.startsWith('ag-'))
      .sort()
      .map((name) => join(packages, name, 'dist'));
  } catch {
    return [];
  }
}

/**
 * The ag tools to carry in the bundle's `tools/`: the single executable for
 * each architecture (`tools/<arch>/ag`), and each tool's .mjs file, which
 * travels too (about 5 MB beside 270 MB of executables) for a host the
 * executables do not run on (another architecture, a musl libc) that has a
 * Node.js 20 or later. With `dir`, what it holds in the bundle's tools/
 * layout (`<arch>/ag`, `ag-*.mjs`). Otherwise found from where this code
 * runs: the bundle's own tools/ (packing again on the far side), a
 * checkout's dist/tools and packages/*\/dist (`npm run build` writes them).
 * Never the TypeScript sources.
 */
export async function discoverTools(dir?: string): Promise<ToolFile[]> {
  if (dir !== undefined) {
    const found = await toolsIn(resolve(dir));
    if (found.length === 0) {
      throw new MissingError(`no ag tools in ${dir} (neither <arch>/ag executables nor ag-*.mjs files)`, {
        hint: 'run npm run build, then pass dist/tools or leave out --tools',
      });
    }
    return found;
  }
  const byPath = new Map<string, ToolFile>();
  for (const searched of await searchDirs()) {
    for (const tool of await toolsIn(searched)) if (!byPath.has(tool.bundlePath)) byPath.set(tool.bundlePath, tool);
  }
  return [...byPath.values()].sort((a, b) => (a.bundlePath < b.bundlePath ? -1 : a.bundlePath > b.bundlePath ? 1 : 0));
}

/** The README carried as `tools/README.txt`: how to run the tools on the far side. */
export function toolsReadme(tools: ToolFile[]): string {
  const executables = tools.filter((tool) => tool.arch !== undefined);
  const scripts = tools.filter((tool) => tool.arch === undefined && tool.shellFile !== true);
  const shellFiles = tools.filter((tool) => tool.shellFile === true);
  const arch = executables[0]?.arch ?? 'amd64';
  const lines = [
    'The ag tools.',
    '',
    'Check the bundle before trusting anything in it (openssl and coreutils alone, in the unpacked root):',
    '  openssl dgst -sha256 -verify PUB.pem -signature SHA256SUMS.sig SHA256SUMS',
    '  sha256sum -c SHA256SUMS',
    '',
  ];
  if (executables.length > 0) {
    lines.push(
      'tools/<arch>/ag is every ag tool in one executable with Node.js built in: nothing else to install.',
      ...executables.map((tool) => `  ${tool.bundlePath}   linux/${tool.arch}${tool.node === undefined ? '' : `, Node.js ${tool.node}`}`),
      'Run a tool by naming it first, or through a link named after it:',
      `  tools/${arch}/ag bundle verify bundle.tar --key PUB.pem`,
      `  tools/${arch}/ag bundle unpack bundle.tar --dir /srv/ag --key PUB.pem > doc.json`,
      `  tools/${arch}/ag --link /usr/local/bin      # ag-bundle, ag-fetch, ... as links to it`,
      '  ag-bundle --help',
      '',
      'To check the executable alone before unpacking (its line of the signed list):',
      `  tar -xf bundle.tar SHA256SUMS SHA256SUMS.sig tools/${arch}/ag`,
      '  openssl dgst -sha256 -verify PUB.pem -signature SHA256SUMS.sig SHA256SUMS',
      `  grep ' tools/${arch}/ag$' SHA256SUMS | sha256sum --strict -c`,
      '',
    );
  }
  if (scripts.length > 0) {
    lines.push(
      'On a host the executables do not run on (another architecture, a musl libc), each tool is also',
      'one JavaScript file for a Node.js 20 or later:',
      ...scripts.map((tool) => `  node ${tool.bundlePath} --help`),
      '',
    );
  }
  if (shellFiles.length > 0) {
    lines.push(
      'tools/share/ holds a man page and bash and zsh completion for each tool (ag-<tool> completion prints the latter too);',
      'ag-nodeprep apply installs them: /usr/share/man/man1/, /etc/bash_completion.d/, /usr/local/share/zsh/site-functions/.',
      '',
    );
  }
  return lines.join('\n');
}

