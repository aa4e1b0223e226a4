/**
 * `--floor` beside `--rounds`: in each round, after the pulls, every mode of
 * pull-floor.ts receives the scenario's blobs from the same registry in a
 * process of its own, and the table sets each mode's transfer and
 * main-thread CPU beside each contender's pull less its pull with nothing
 * to do (its transfer without its start). Where ag-images sits between the
 * floors says what is left to gain on the one thread that receives.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { isIndexMediaType, isManifestMediaType, parseReference, type Descriptor } from '@ag/core';
import { median, seconds, type PullRound } from './images-rounds.js';
import { FLOOR_MODES, type FloorMode, type FloorRun, type FloorTarget } from './pull-floor.js';
import { REPO_ROOT } from './workspace.js';

export type FloorBlob = FloorTarget['blobs'][number];

/**
 * Every blob of the images once (configs and layers, not manifests), each
 * with a repository that holds it: the registry serves a blob only where an
 * image links it. `images` are each image's reference and the descriptors it
 * reaches (walkImages).
 */
export function floorBlobsOf(images: ReadonlyArray<{ ref: string; descriptors: readonly Descriptor[] }>): FloorBlob[] {
  const blobs = new Map<string, FloorBlob>();
  for (const { ref, descriptors } of images) {
    const { registry, repository } = parseReference(ref);
    for (const d of descriptors) {
      if (isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType) || blobs.has(d.digest)) continue;
      blobs.set(d.digest, { repository: `${registry}/${repository}`, digest: d.digest, size: d.size });
    }
  }
  return [...blobs.values()];
}

const PULL_FLOOR = join(REPO_ROOT, 'tools', 'bench', 'src', 'pull-floor.ts');

const WHAT: Record<FloorMode, string> = {
  tls: 'tls.connect, one GET per blob, bytes dropped',
  undici: "undici's Agent.request, bodies dropped",
  'undici-write': 'undici, hashed, written in 64 KiB batches, fsynced',
  'undici-write-2': 'the same, half the blobs on a worker thread',
};

/** One mode in its own process (this node, through tsx). */
function floorRun(mode: FloorMode, target: FloorTarget): FloorRun {
  const result = spawnSync(process.execPath, ['--import', 'tsx', PULL_FLOOR, mode, JSON.stringify(target)], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`pull-floor ${mode} exited ${result.status}:\n${result.stderr}`);
  return JSON.parse(result.stdout) as FloorRun;
}

/** `rounds` rounds of every mode, the modes' order rotating as the pulls' does. */
export function pullFloors(target: FloorTarget, rounds: number, log: (line: string) => void): FloorRun[][] {
  const results: FloorRun[][] = [];
  for (let r = 0; r < rounds; r += 1) {
    const order = FLOOR_MODES.map((_, i) => FLOOR_MODES[(i + r) % FLOOR_MODES.length]!);
    const round = order.map((mode) => floorRun(mode, target));
    log(`floor round ${r + 1}: ${round.map((run) => `${run.mode} ${seconds(run.transferMs)} (main thread ${seconds(run.mainThreadCpuMs)})`).join('; ')}`);
    results.push(round);
  }
  return results;
}

function spread(values: number[]): string {
  return `${seconds(median(values))} (${seconds(Math.min(...values))} to ${seconds(Math.max(...values))})`;
}

/** The floors' medians and ranges, then each contender's transfer (pull less its no-op pull) over the same rounds. */
export function formatFloor(floor: FloorRun[][], rounds: PullRound[], contenders: string[]): string {
  const node = floor[0]?.[0]?.node ?? process.version;
  const lines = [
    `What receiving the same blobs takes (Node.js ${node} for the floors; median, range over ${floor.length} rounds):`,
    '',
    '| what | transfer | CPU |',
    '| --- | ---: | ---: |',
  ];
  for (const mode of FLOOR_MODES) {
    const runs = floor.map((round) => round.find((run) => run.mode === mode)!);
    const mainThread = `main thread ${seconds(median(runs.map((r) => r.mainThreadCpuMs)))}`;
    const allThreads = `all threads ${seconds(median(runs.map((r) => r.allThreadsCpuMs)))}`;
    lines.push(`| ${WHAT[mode]} | ${spread(runs.map((r) => r.transferMs))} | ${mainThread}, ${allThreads} |`);
  }
  for (const name of contenders) {
    const transfer = rounds.map((round) => round.pull[name]!.wallMs - round.again[name]!.wallMs);
    const cpu = rounds.map((round) => round.pull[name]!.cpuMs - round.again[name]!.cpuMs);
    lines.push(`| ${name}, its pull less its pull with nothing to do | ${spread(transfer)} | all threads ${seconds(median(cpu))} |`);
  }
  lines.push('');
  return lines.join('\n');
}
