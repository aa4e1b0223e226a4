/**
 * Pulls only, in interleaved rounds (`npm run bench:images -- --rounds N`):
 * each round pulls the scenario's images into an empty layout with ag-images,
 * with an earlier build of it when `--baseline <ag-images.mjs>` names one,
 * and with skopeo, in an order that rotates from round to round, then pulls
 * again with nothing to do. On a shared machine a single pair of runs moves
 * by 0.3 in ratio; the median of ratios measured a few seconds apart, with
 * the load average beside each, says more.
 *
 * Each run goes through GNU time for its CPU time (user + system) and peak
 * RSS, so a round also shows how much of a pull's wall time each side spent
 * computing. Each ratio is also given beyond the pull with nothing to do
 * (each side's pull less its no-op pull, which is its start-up, one manifest
 * request and the blobs' stat): what the transfer itself takes, apart from
 * what starting costs each side.
 */
import { spawnSync } from 'node:child_process';
import { rm, mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { measureEach, type Measurement } from './measure.js';

/** One contender in a round: how to pull, and where its layout is (emptied before a fresh pull). */
export interface Contender {
  name: string;
  layout: string;
  /** The commands that pull everything (skopeo: one per image). */
  commands: Array<[string, string[]]>;
}

export interface PullRound {
  load: number;
  pull: Record<string, Measurement>;
  again: Record<string, Measurement>;
}

/**
 * `rounds` rounds; in round r the contenders start at r mod their count, so
 * each is first, second… equally often. Layouts are emptied and the page
 * cache's dirty pages written back (sync) before each fresh pull.
 */
export async function pullRounds(contenders: Contender[], rounds: number, log: (line: string) => void): Promise<PullRound[]> {
  const results: PullRound[] = [];
  for (let r = 0; r < rounds; r += 1) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]!);
    const round: PullRound = { load: loadavg()[0]!, pull: {}, again: {} };
    for (const contender of order) {
      await rm(contender.layout, { recursive: true, force: true });
      await mkdir(contender.layout, { recursive: true });
      spawnSync('sync');
      round.pull[contender.name] = await measureEach(contender.commands);
      round.again[contender.name] = await measureEach(contender.commands);
    }
    log(formatRound(r + 1, round, contenders));
    results.push(round);
  }
  return results;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** `name`'s pull against skopeo's in one round. */
function toSkopeo(round: PullRound, name: string): number {
  return round.pull[name]!.wallMs / round.pull['skopeo']!.wallMs;
}

/** `name`'s pull against skopeo's, each less its pull with nothing to do. */
function beyondNoOp(round: PullRound, name: string): number {
  return (round.pull[name]!.wallMs - round.again[name]!.wallMs) / (round.pull['skopeo']!.wallMs - round.again['skopeo']!.wallMs);
}

function formatRound(n: number, round: PullRound, contenders: Contender[]): string {
  const parts = contenders.map((c) => {
    const run = round.pull[c.name]!;
    const ratio = c.name === 'skopeo' ? '' : ` (${toSkopeo(round, c.name).toFixed(2)}; beyond a no-op ${beyondNoOp(round, c.name).toFixed(2)})`;
    return `${c.name} ${seconds(run.wallMs)}${ratio} cpu ${seconds(run.cpuMs)} ${(run.peakKiB / 1024).toFixed(0)} MiB, again ${seconds(round.again[c.name]!.wallMs)}`;
  });
  return `round ${n}, load ${round.load.toFixed(1)}: ${parts.join('; ')}`;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A table: per round and contender the pull, its ratio to skopeo, CPU, peak and the no-op pull; then the medians. */
export function formatRounds(title: string, rounds: PullRound[], names: string[]): string {
  const agNames = names.filter((n) => n !== 'skopeo');
  const header = [
    'round',
    'load',
    ...names.map((n) => `${n} pull (cpu)`),
    ...agNames.map((n) => `${n}/skopeo`),
    ...agNames.map((n) => `${n}/skopeo beyond a no-op`),
    ...names.map((n) => `${n} again`),
    ...agNames.map((n) => `${n} peak`),
  ];
  const row = (label: string, load: string, pull: (n: string) => Measurement, again: (n: string) => number, ratio: (n: string) => number, beyond: (n: string) => number): string =>
    `| ${[
      label,
      load,
      ...names.map((n) => `${seconds(pull(n).wallMs)} (${seconds(pull(n).cpuMs)})`),
      ...agNames.map((n) => ratio(n).toFixed(2)),
      ...agNames.map((n) => beyond(n).toFixed(2)),
      ...names.map((n) => seconds(again(n))),
      ...agNames.map((n) => `${(pull(n).peakKiB / 1024).toFixed(0)} MiB`),
    ].join(' | ')} |`;
  const lines = [title, '', `| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  rounds.forEach((r, i) =>
    lines.push(row(String(i + 1), r.load.toFixed(1), (n) => r.pull[n]!, (n) => r.again[n]!.wallMs, (n) => toSkopeo(r, n), (n) => beyondNoOp(r, n))),
  );
  const med = (pick: (r: PullRound) => number): number => median(rounds.map(pick));
  lines.push(
    row(
      'median',
      med((r) => r.load).toFixed(1),
      (n) => ({ wallMs: med((r) => r.pull[n]!.wallMs), cpuMs: med((r) => r.pull[n]!.cpuMs), peakKiB: Math.max(...rounds.map((r) => r.pull[n]!.peakKiB)) }),
      (n) => med((r) => r.again[n]!.wallMs),
      // The median of the ratios (each measured side by side), not the ratio of the medians.
      (n) => med((r) => toSkopeo(r, n)),
      (n) => med((r) => beyondNoOp(r, n)),
    ),
    '',
  );
  return lines.join('\n');
}
