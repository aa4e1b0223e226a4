/**
 * Start-up time of every ag tool, `--version` and `--help`, both ways it
 * ships: the tool run by this machine's node (bin/ag-<tool>.cjs), and the
 * single executable (dist/tools/<arch>/ag-<tool>, Node.js built in), both
 * also without their code cache (AG_NO_CODE_CACHE=1) to show what the cache
 * buys. Beside them, in the same interleaved rounds so that a busy machine
 * slows all alike: `node -e 0` (the floor any Node CLI pays here) and
 * `ag --version` (the executable's floor: its Node.js, no tool's code).
 * When the environment sets NODE_EXTRA_CA_CERTS, `node -e 0` and each
 * `--help` by node also without it: Node.js 20 reads and parses that file
 * and its own CA store at every start, before any of the tool's code
 * (https://github.com/nodejs/node/issues/40524); Node.js 24 only when TLS is
 * first used (https://github.com/nodejs/node/pull/59856).
 *
 *   npm run bench:startup [-- --runs 15] [-- --tool ag-fetch] [-- --json] [-- --check]
 *   npm run bench:startup -- --profile ag-kubeadm     where a start's time goes, by package, as the executable starts
 *   npm run bench:startup -- --profile ag-images -- pull REF --mirror HOST …   the same for any arguments (default --help)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hostArchitecture } from '@ag/core';
import { formatProfile, profileStartup } from './startup-profile.js';
import { builtTools, REPO_ROOT, runWhenScript } from './workspace.js';

/** ag's target: each tool's --version and --help under this median (issue 16). */
export const TARGET_MS = 150;

export interface StartupCommand {
  name: string;
  /** How the command shows in the table. */
  command: string;
  argv: string[];
  env?: Record<string, string>;
  /** Variables of this environment the command runs without. */
  unset?: string[];
}

export interface StartupRow {
  name: string;
  command: string;
  medianMs: number;
  p95Ms: number;
  /** Median CPU time (user + system) of the process, ms: what a busy machine changes least. */
  cpuMs: number;
  /** median / the baseline's median (`node -e 0`) */
  ratio: number;
  samples: number[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** This machine's executable (dist/tools/<arch>/ag), when `npm run build` made it. */
export function executableDir(root = REPO_ROOT): string | undefined {
  const dir = join(root, 'dist', 'tools', hostArchitecture());
  return existsSync(join(dir, 'ag')) ? dir : undefined;
}

/** Set here and read by Node.js 20 at every start (see the file comment): the rows "without" it show what that costs. */
const EXTRA_CA_CERTS = 'NODE_EXTRA_CA_CERTS';
const WITHOUT_EXTRA_CA_CERTS = `without ${EXTRA_CA_CERTS}`;

/** Every command the benchmark times; [0] is the baseline. */
export function startupCommands(options: { tools?: string[] } = {}): StartupCommand[] {
  const tools = builtTools().filter((t) => options.tools === undefined || options.tools.length === 0 || options.tools.includes(t.name));
  const exeDir = executableDir();
  const extraCaCerts = process.env[EXTRA_CA_CERTS] !== undefined;
  const commands: StartupCommand[] = [{ name: 'node -e 0 (baseline)', command: 'node -e 0', argv: [process.execPath, '-e', '0'] }];
  if (extraCaCerts) {
    commands.push({ name: `node -e 0 ${WITHOUT_EXTRA_CA_CERTS}`, command: `env -u ${EXTRA_CA_CERTS} node -e 0`, argv: [process.execPath, '-e', '0'], unset: [EXTRA_CA_CERTS] });
  }
  if (exeDir !== undefined) commands.push({ name: 'ag --version (floor)', command: 'dist/tools/…/ag --version', argv: [join(exeDir, 'ag'), '--version'] });
  for (const tool of tools) {
    const bin = `node packages/${tool.name}/bin/${tool.name}.cjs`;
    for (const flag of ['--version', '--help']) {
      commands.push({ name: `${tool.name} ${flag} node`, command: `${bin} ${flag}`, argv: [process.execPath, tool.bin, flag] });
      if (exeDir === undefined) continue;
      commands.push({ name: `${tool.name} ${flag} exe`, command: `dist/tools/…/${tool.name} ${flag}`, argv: [join(exeDir, tool.name), flag] });
    }
    // What the code cache buys on this node, and what NODE_EXTRA_CA_CERTS costs it.
    commands.push({ name: `${tool.name} --help node, no cache`, command: `AG_NO_CODE_CACHE=1 ${bin} --help`, argv: [process.execPath, tool.bin, '--help'], env: { AG_NO_CODE_CACHE: '1' } });
    if (extraCaCerts) {
      commands.push({ name: `${tool.name} --help node ${WITHOUT_EXTRA_CA_CERTS}`, command: `env -u ${EXTRA_CA_CERTS} ${bin} --help`, argv: [process.execPath, tool.bin, '--help'], unset: [EXTRA_CA_CERTS] });
    }
    // The same code as one ES module (what the bundle carries for a host with Node.js alone): no code cache on Node.js 20.
    commands.push({ name: `${tool.name} --help .mjs one file`, command: `node packages/${tool.name}/dist/${tool.name}.mjs --help`, argv: [process.execPath, join(REPO_ROOT, 'packages', tool.name, 'dist', `${tool.name}.mjs`), '--help'] });
    if (exeDir !== undefined) {
      commands.push({
        name: `${tool.name} --help exe, no cache`,
        command: `AG_NO_CODE_CACHE=1 …/${tool.name} --help`,
        argv: [join(exeDir, tool.name), '--help'],
        env: { AG_NO_CODE_CACHE: '1' },
      });
    }
  }
  return commands;
}

/** The rows the target is for: what `ag-<tool>` runs (not the floor, nor the comparisons without cache or split). */
function isTargetRow(row: StartupRow): boolean {
  return !row.name.includes('no cache') && !row.name.includes('floor') && !row.name.includes('one file') && !row.name.includes(WITHOUT_EXTRA_CA_CERTS);
}

/** CPU time of this process's waited-for children so far, ms (cutime + cstime of /proc/self/stat, in clock ticks of 10 ms). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14 here.
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function timeOnce(command: StartupCommand): { wallMs: number; cpuMs: number } {
  const cpuBefore = childrenCpuMs();
  const started = process.hrtime.bigint();
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...command.env };
  for (const name of command.unset ?? []) delete env[name];
  const result = spawnSync(command.argv[0]!, command.argv.slice(1), { stdio: 'ignore', cwd: REPO_ROOT, env });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command.command} exited ${result.status ?? result.signal}`);
  return { wallMs, cpuMs: childrenCpuMs() - cpuBefore };
}

/** Runs the benchmark; rows[0] is the baseline. Bounded: at most 50 runs per command. */
export function measureStartup(options: { runs: number; tools?: string[] }): StartupRow[] {
  const runs = Math.max(1, Math.min(50, Math.floor(options.runs)));
  const commands = startupCommands(options);
  const samples = commands.map(() => [] as number[]);
  const cpu = commands.map(() => [] as number[]);
  // One warm-up round fills the OS page cache, so the first sample is not a cold read of the file.
  for (const command of commands) timeOnce(command);
  for (let round = 0; round < runs; round += 1) {
    commands.forEach((command, index) => {
      const { wallMs, cpuMs } = timeOnce(command);
      samples[index]!.push(wallMs);
      cpu[index]!.push(cpuMs);
    });
  }
  const rows = commands.map((command, index) => {
    const sorted = [...samples[index]!].sort((a, b) => a - b);
    const cpuMs = percentile([...cpu[index]!].sort((a, b) => a - b), 50);
    return { name: command.name, command: command.command, medianMs: percentile(sorted, 50), p95Ms: percentile(sorted, 95), cpuMs, ratio: 1, samples: samples[index]! };
  });
  const baseline = rows[0]!.medianMs;
  for (const row of rows) row.ratio = row.medianMs / baseline;
  return rows;
}

export function formatStartup(rows: readonly StartupRow[], runs: number): string {
  const lines = [
    `start-up time, ${runs} runs each (median / p95 wall ms; cpu = median user+system ms, 10 ms ticks; ratio = median against node -e 0 (${process.version}) in the same rounds; target ${TARGET_MS} ms)`,
    '',
    `${'command'.padEnd(52)} ${'median'.padStart(8)} ${'p95'.padStart(8)} ${'cpu'.padStart(6)} ${'ratio'.padStart(7)} ${'over node'.padStart(10)} ${'target'.padStart(8)}`,
  ];
  const baseline = rows[0]?.medianMs ?? 0;
  for (const row of rows) {
    const difference = row.medianMs - baseline;
    const over = row === rows[0] ? '' : `${difference >= 0 ? '+' : ''}${difference.toFixed(0)} ms`;
    const target = row === rows[0] || !isTargetRow(row) ? '' : row.medianMs < TARGET_MS ? 'ok' : 'over';
    lines.push(`${row.name.padEnd(52)} ${row.medianMs.toFixed(1).padStart(8)} ${row.p95Ms.toFixed(1).padStart(8)} ${row.cpuMs.toFixed(0).padStart(6)} ${`${row.ratio.toFixed(2)}x`.padStart(7)} ${over.padStart(10)} ${target.padStart(8)}`);
  }
  const measured = rows.slice(1).filter(isTargetRow);
  const slow = measured.filter((r) => r.medianMs >= TARGET_MS);
  lines.push(
    '',
    slow.length === 0
      ? `every tool's --version and --help is under the ${TARGET_MS} ms target`
      : `${slow.length} of ${measured.length} over the ${TARGET_MS} ms target (node -e 0 alone: ${baseline.toFixed(0)} ms)`,
  );
  if (!rows.some((r) => r.name.endsWith(' exe'))) lines.push('no single executable for this machine: npm run build makes dist/tools/<arch>/ag');
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '15' },
      tool: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  if (values.profile !== undefined) {
    const args = positionals.length > 0 ? positionals : undefined;
    process.stdout.write(`${formatProfile(await profileStartup({ tool: values.profile, runs: Math.min(runs, 10), ...(args ? { args } : {}) }))}\n`);
    return 0;
  }
  if (builtTools().length === 0) {
    process.stderr.write('no built tools: run `npm run build` first\n');
    return 2;
  }
  const rows = measureStartup({ runs, tools: values.tool ?? [] });
  process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStartup(rows, runs)}\n`);
  const measured = rows.slice(1).filter(isTargetRow);
  return values.check && measured.some((r) => r.medianMs >= TARGET_MS) ? 1 : 0;
}

runWhenScript(import.meta.url, main);
