/**
 * Start-up time of every built ag tool: `node bin/ag-X.mjs --help`, N runs
 * each, against `node -e 0` (the floor any Node CLI pays) measured in the same
 * rounds, interleaved so that a busy machine slows both alike.
 *
 *   npm run bench:startup [-- --runs 20] [-- --tool ag-fetch] [-- --json] [-- --check]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { builtTools, REPO_ROOT } from './workspace.js';

/** ag's budget: each tool starts in well under this (DESIGN.md, "Numbers that matter"). */
export const BUDGET_MS = 200;

export interface StartupRow {
  name: string;
  command: string;
  medianMs: number;
  p95Ms: number;
  /** median / the baseline's median */
  ratio: number;
  samples: number[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function timeOnce(args: readonly string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: 'ignore', cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' } });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status ?? result.signal}`);
  return elapsed;
}

/** Runs the benchmark; rows[0] is the baseline. Bounded: at most 50 runs per command. */
export function measureStartup(options: { runs: number; tools?: string[] }): StartupRow[] {
  const runs = Math.max(1, Math.min(50, Math.floor(options.runs)));
  const tools = builtTools().filter((t) => options.tools === undefined || options.tools.length === 0 || options.tools.includes(t.name));
  const commands = [
    { name: 'node -e 0 (baseline)', command: 'node -e 0', args: ['-e', '0'] },
    ...tools.map((t) => ({ name: t.name, command: `node packages/${t.name}/bin/${t.name}.mjs --help`, args: [t.bin, '--help'] })),
  ];
  const samples = commands.map(() => [] as number[]);
  // One warm-up round fills the OS page cache, so the first sample is not a cold read of the bundle.
  for (const command of commands) timeOnce(command.args);
  for (let round = 0; round < runs; round += 1) {
    commands.forEach((command, index) => samples[index]!.push(timeOnce(command.args)));
  }
  const rows = commands.map((command, index) => {
    const sorted = [...samples[index]!].sort((a, b) => a - b);
    return { name: command.name, command: command.command, medianMs: percentile(sorted, 50), p95Ms: percentile(sorted, 95), ratio: 1, samples: samples[index]! };
  });
  const baseline = rows[0]!.medianMs;
  for (const row of rows) row.ratio = row.medianMs / baseline;
  return rows;
}

export function formatStartup(rows: readonly StartupRow[], runs: number): string {
  const lines = [
    `start-up time, ${runs} runs each (median / p95 ms; ratio = median against node -e 0 in the same rounds)`,
    '',
    `${'command'.padEnd(24)} ${'median'.padStart(8)} ${'p95'.padStart(8)} ${'ratio'.padStart(7)} ${'over node'.padStart(10)}`,
  ];
  const baseline = rows[0]?.medianMs ?? 0;
  for (const row of rows) {
    const over = row === rows[0] ? '' : `+${(row.medianMs - baseline).toFixed(0)} ms`;
    lines.push(`${row.name.padEnd(24)} ${row.medianMs.toFixed(1).padStart(8)} ${row.p95Ms.toFixed(1).padStart(8)} ${`${row.ratio.toFixed(2)}x`.padStart(7)} ${over.padStart(10)}`);
  }
  const slow = rows.slice(1).filter((r) => r.medianMs >= BUDGET_MS);
  lines.push('', slow.length === 0 ? `every tool's median is under the ${BUDGET_MS} ms budget` : `over the ${BUDGET_MS} ms budget: ${slow.map((r) => r.name).join(', ')}`);
  return lines.join('\n');
}

function main(): number {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '15' },
      tool: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  if (builtTools().length === 0) {
    process.stderr.write('no built tools: run `npm run build` first\n');
    return 2;
  }
  const rows = measureStartup({ runs, tools: values.tool ?? [] });
  process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStartup(rows, runs)}\n`);
  return values.check && rows.slice(1).some((r) => r.medianMs >= BUDGET_MS) ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) process.exitCode = main();
