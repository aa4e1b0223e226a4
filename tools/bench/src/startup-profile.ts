/**
 * Where a tool's start goes (`npm run bench:startup -- --profile ag-X [-- ARGS]`), as the single executable
 * starts it: the tool bundled as the build bundles it for the executable (CommonJS, for Node.js 24) but with
 * line breaks kept and a source map, with a code cache made as the build makes the executable's
 * (tools/build/sea-code-cache.cjs after the tool's training run, under EXECUTABLE_V8_FLAGS), run by the executable's own
 * Node.js (the pinned tarball the build verifies) under the same flags and `--cpu-prof`, through the loader the
 * executable uses (tools/build/sea-main.cjs), a few times. ARGS default to `--help`; a pull against a local
 * registry shows a pull's start. The samples are added up by what they were doing: evaluating the top level of
 * one package (the modules every start evaluates, used or not: what lazy loading would cut), running yargs,
 * loading Node's own modules, V8 compiling, garbage collection. The lines are the bundle's, mapped back to their
 * source with Node's own SourceMap.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXECUTABLE_V8_FLAGS } from '@ag/build/executables';
import { extractNode, NODE_RUNTIME, type Arch } from '@ag/build/node-runtime';
import { hostArchitecture } from '@ag/core';
import { REPO_ROOT } from './workspace.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  positionTicks?: Array<{ line: number; ticks: number }>;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  what: string;
  /** Mean milliseconds per run. */
  ms: number;
  share: number;
}

export interface StartupProfile {
  tool: string;
  args: string[];
  runs: number;
  /** Mean sampled milliseconds per run (the process's own bootstrap before the first sample is not in it). */
  totalMs: number;
  rows: ProfileRow[];
}

/** The package a source path of the bundle belongs to: `yargs`, `@peculiar/x509`, `ag: core/document`… */
export function packageOf(source: string): string {
  const modules = source.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = source.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const ag = /packages\/([^/]+)\/src\/(?:([^/]+)\/)?/.exec(source);
  if (ag) return `ag: ${ag[1]}${ag[2] === undefined ? '' : `/${ag[2]}`}`;
  if (source.includes('fast-string-width')) return 'ag: string-width stand-in';
  return source;
}

function classify(node: ProfileNode, bundleUrl: string): string {
  const { functionName, url } = node.callFrame;
  if (url === bundleUrl) return '(bundle)';
  if (url.endsWith('sea-main.cjs')) return 'the executable\'s loader (sea-main.cjs)';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'native: V8 parsing and compiling, Node.js bootstrap';
  if (functionName === '(idle)') return 'idle (waiting for I/O)';
  if (/compile|wrapSafe|ModuleWrap/i.test(functionName)) return 'V8 compiling the bundle';
  // Node's own modules, by area (node:internal/crypto/… -> crypto): which built-ins a start loads.
  const area = url.replace(/^node:/, '').replace(/^internal\//, '').split('/')[0] || functionName || 'native';
  return `Node.js built-in: ${area}`;
}

const SEA_MAIN = join(REPO_ROOT, 'tools', 'build', 'sea-main.cjs');
const SEA_CODE_CACHE = join(REPO_ROOT, 'tools', 'build', 'sea-code-cache.cjs');

/** Runs `node argv…`, or throws with what it printed on stderr. */
function runOrThrow(node: string, argv: string[], what: string): void {
  const result = spawnSync(node, argv, { encoding: 'utf8', cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  if (result.status !== 0) throw new Error(`${what} exited ${result.status ?? result.signal}:\n${result.stderr}`);
}

/** Runs the profile; returns the mean milliseconds per group. */
export async function profileStartup(options: { tool: string; runs: number; args?: string[] }): Promise<StartupProfile> {
  const work = mkdtempSync(join(tmpdir(), 'ag-startup-profile-'));
  try {
    const bundle = join(work, `${options.tool}.cjs`);
    runOrThrow(
      process.execPath,
      ['--input-type=module', '-e', `const b = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'tools', 'build', 'bundle-bins.mjs')).href)});
const t = b.toolEntries().find((e) => e.name === ${JSON.stringify(options.tool)});
if (!t) { console.error('no tool ${options.tool}'); process.exit(2); }
await b.bundleTool({ entry: t.entry, outfile: ${JSON.stringify(bundle)}, format: 'cjs', target: 'node${NODE_RUNTIME.version.split('.')[0]}', profiling: true });`],
      `bundling ${options.tool} for profiling`,
    );
    const node = join(work, 'node');
    await extractNode(hostArchitecture() as Arch, node);
    runOrThrow(node, [...EXECUTABLE_V8_FLAGS, SEA_CODE_CACHE, options.tool, bundle, `${bundle}.cache`], `making the code cache of ${options.tool}`);
    // sea-main.cjs's loader, as bin/ag-<tool>.cjs uses it: the bundle beside its cache, compiled under the name the executable gives it.
    const loader = `process.argv.splice(1, 0, ${JSON.stringify(bundle)}); require(${JSON.stringify(SEA_MAIN)}).runBuiltTool(${JSON.stringify(bundle)});`;
    const args = options.args ?? ['--help'];
    const map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as SourceMapPayload);
    const bundleUrl = `${options.tool}.js`;
    const totals = new Map<string, number>();
    let total = 0;
    for (let run = 0; run < options.runs; run += 1) {
      const dir = join(work, `run-${run}`);
      runOrThrow(node, [...EXECUTABLE_V8_FLAGS, '--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100', '-e', loader, '--', ...args], `${options.tool} ${args.join(' ')} under --cpu-prof`);
      const profile = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8')) as CpuProfile;
      const byId = new Map(profile.nodes.map((node) => [node.id, node]));
      const self = new Map<number, number>();
      profile.samples.forEach((id, index) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000));
      for (const [id, ms] of self) {
        const node = byId.get(id)!;
        total += ms;
        const group = classify(node, bundleUrl);
        if (group !== '(bundle)') {
          totals.set(group, (totals.get(group) ?? 0) + ms);
          continue;
        }
        // Spread the function's time over the lines it was sampled on, each line mapped to its source file.
        const lines = node.positionTicks?.length ? node.positionTicks : [{ line: node.callFrame.lineNumber + 1, ticks: 1 }];
        const ticks = lines.reduce((sum, line) => sum + line.ticks, 0);
        for (const line of lines) {
          const source = map.findEntry(line.line - 1, 0) as { originalSource?: string };
          const name = source.originalSource === undefined ? 'the bundle (unmapped)' : packageOf(source.originalSource);
          totals.set(name, (totals.get(name) ?? 0) + (ms * line.ticks) / ticks);
        }
      }
    }
    const runs = Math.max(1, options.runs);
    const rows = [...totals]
      .map(([what, ms]) => ({ what, ms: ms / runs, share: ms / total }))
      .sort((a, b) => b.ms - a.ms);
    return { tool: options.tool, args, runs, totalMs: total / runs, rows };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function formatProfile(profile: StartupProfile, top = 20): string {
  const lines = [
    `${profile.tool} ${profile.args.join(' ')} as the executable starts it (Node.js v${NODE_RUNTIME.version}, ${EXECUTABLE_V8_FLAGS.join(' ')}, its code cache) under --cpu-prof, ${profile.runs} run(s): ${profile.totalMs.toFixed(0)} ms sampled per run`,
    '(self time; a package\'s rows are its code running, mostly its modules\' top level at load; the bundle with its line breaks kept)',
    '',
  ];
  for (const row of profile.rows.slice(0, top)) lines.push(`${row.ms.toFixed(1).padStart(7)} ms ${(row.share * 100).toFixed(0).padStart(3)}%  ${row.what}`);
  const rest = profile.rows.slice(top).reduce((sum, row) => sum + row.ms, 0);
  if (rest > 0) lines.push(`${rest.toFixed(1).padStart(7)} ms        ${profile.rows.length - top} more`);
  return lines.join('\n');
}
