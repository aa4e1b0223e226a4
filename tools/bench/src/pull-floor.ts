/**
 * What any Node.js client pays to receive a pull's blobs from the bench's
 * registry, below ag-images: `npm run bench:images -- --rounds N --floor`
 * runs this once per mode per round, in its own process, and sets its
 * figures beside ag-images' and skopeo's transfer (each pull less its pull
 * with nothing to do). Modes, each fetching every blob, 4 at a time (as
 * ag-images and the bench's pulls do):
 *
 *   tls            tls.connect and one HTTP/1.1 GET per blob, bytes counted and dropped
 *   undici         undici's Agent.request, the body read and dropped
 *   undici-write   undici, each body hashed (SHA-256) and written in 64 KiB batches, fsynced, digest checked
 *   undici-write-2 the same, with half the blobs received by a worker thread on connections of its own
 *                  (2 and 2): what a second receiving thread buys on this machine
 *
 * Measured from the first connection to the last byte (the process's own
 * start is left out), with the main thread's CPU time from
 * /proc/self/task/<pid>/stat (10 ms ticks): the work that cannot leave
 * that thread without copying bytes to another; and the CPU of all the
 * process's threads (process.cpuUsage), which is more than the main
 * thread's when a worker receives too.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsync, mkdirSync, openSync, readFileSync, rmSync, writevSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect } from 'node:tls';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { Agent } from 'undici';
import { createLimiter } from '@ag/core';
import { runWhenScript } from './workspace.js';

export const FLOOR_MODES = ['tls', 'undici', 'undici-write', 'undici-write-2'] as const;
export type FloorMode = (typeof FLOOR_MODES)[number];

/** Where the blobs are and how to ask for them. */
export interface FloorTarget {
  /** `host:port` of the registry (TLS). */
  host: string;
  caFile: string;
  /** `user:password` (Basic). */
  credentials: string;
  blobs: Array<{ repository: string; digest: string; size: number }>;
  /** Where the undici-write modes put their files (emptied after). */
  scratch: string;
}

export interface FloorRun {
  mode: FloorMode;
  node: string;
  transferMs: number;
  mainThreadCpuMs: number;
  allThreadsCpuMs: number;
  bytes: number;
}

const CONNECTIONS = 4;
const BATCH_BYTES = 64 * 1024;

function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function basicAuthorization(target: FloorTarget): string {
  return `Basic ${Buffer.from(target.credentials).toString('base64')}`;
}

/** One GET over a fresh TLS connection; the bytes after the header, which must say 200. */
function tlsGet(target: FloorTarget, ca: Buffer, blob: FloorTarget['blobs'][number]): Promise<number> {
  const [host, port] = target.host.split(':');
  return new Promise((resolve, reject) => {
    let total = 0;
    let head = '';
    let bodyFrom = -1;
    const socket = connect({ host, port: Number(port), ca }, () => {
      socket.write(`GET /v2/${blob.repository}/blobs/${blob.digest} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: ${basicAuthorization(target)}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (bodyFrom < 0) {
        head += chunk.toString('latin1', 0, Math.min(chunk.length, 4096));
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) bodyFrom = end + 4;
      }
    });
    socket.on('end', () => {
      if (!head.startsWith('HTTP/1.1 200')) reject(new Error(`GET ${blob.digest}: ${head.split('\r\n')[0]}`));
      else resolve(total - bodyFrom);
    });
    socket.on('error', reject);
  });
}

const fsyncOnPool = promisify(fsync);

async function undiciGet(agent: Agent, target: FloorTarget, blob: FloorTarget['blobs'][number], write: boolean): Promise<number> {
  const response = await agent.request({
    origin: `https://${target.host}`,
    path: `/v2/${blob.repository}/blobs/${blob.digest}`,
    method: 'GET',
    headers: { authorization: basicAuthorization(target) },
  });
  if (response.statusCode !== 200) throw new Error(`GET ${blob.digest}: ${response.statusCode}`);
  const hash = write ? createHash('sha256') : undefined;
  const file = write ? join(target.scratch, blob.digest.slice('sha256:'.length)) : undefined;
  const fd = file === undefined ? undefined : openSync(file, 'w');
  let batch: Buffer[] = [];
  let pending = 0;
  let total = 0;
  const flush = (): void => {
    if (fd === undefined || pending === 0) return;
    writevSync(fd, batch);
    for (const piece of batch) hash!.update(piece);
    batch = [];
    pending = 0;
  };
  await new Promise<void>((resolve, reject) => {
    response.body.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (fd === undefined) return;
      batch.push(chunk);
      pending += chunk.length;
      if (pending >= BATCH_BYTES) flush();
    });
    response.body.on('end', resolve);
    response.body.on('error', reject);
  });
  if (fd !== undefined) {
    flush();
    // On libuv's threads, as ag's blob writer does (FileHandle.sync), not fsyncSync on the thread that
    // receives every connection. Measured on 2026-12-04 (Node.js 24): 1.16 to 1.80 s in eight runs against
    // 1.34 to 1.76 s in five with fsyncSync; this machine's spread hides any difference, but the floor should
    // take the path ag takes.
    await fsyncOnPool(fd);
    closeSync(fd);
    const digest = `sha256:${hash!.digest('hex')}`;
    if (digest !== blob.digest) throw new Error(`GET ${blob.digest}: the bytes hash to ${digest}`);
  }
  return total;
}

/** An undici pool of `connections` to the registry (closed by the caller once the clock has stopped). */
function undiciAgent(target: FloorTarget, connections: number): Agent {
  return new Agent({ connect: { ca: readFileSync(target.caFile) }, connections });
}

/** `blobs`, `connections` at a time, on this thread (through `agent`, or tls.connect without one); the bytes of each. */
function receive(target: FloorTarget, blobs: FloorTarget['blobs'], connections: number, agent: Agent | undefined, write: boolean): Promise<number[]> {
  const ca = readFileSync(target.caFile);
  const limit = createLimiter(connections);
  return Promise.all(blobs.map((blob) => limit(() => (agent === undefined ? tlsGet(target, ca, blob) : undiciGet(agent, target, blob, write)))));
}

/** undici-write-2's split: this thread takes the even blobs, the worker the odd ones. */
function halves(blobs: FloorTarget['blobs']): { mine: FloorTarget['blobs']; theirs: FloorTarget['blobs'] } {
  return { mine: blobs.filter((_, i) => i % 2 === 0), theirs: blobs.filter((_, i) => i % 2 === 1) };
}

/** What the worker of undici-write-2 is given. */
interface WorkerTask {
  target: FloorTarget;
  blobs: FloorTarget['blobs'];
}

/** A worker of undici-write-2, started and ready: `go()` starts its receiving and settles with its sizes. */
interface ReadyWorker {
  go: () => Promise<number[]>;
  stop: () => Promise<number>;
}

/**
 * Starts the worker of undici-write-2 with its half of the blobs and waits
 * until it has loaded what it needs. Its start is left out of the
 * measurement: under tsx it compiles this file again, which a tool's
 * bundled worker would not (a bundle's worker starts in tens of
 * milliseconds, measured apart).
 */
async function startWorker(target: FloorTarget, blobs: FloorTarget['blobs']): Promise<ReadyWorker> {
  const worker = new Worker(new URL('./pull-floor-worker.mjs', import.meta.url), { workerData: { target, blobs } satisfies WorkerTask });
  const next = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(error);
      const exit = (code: number): void => reject(new Error(`the receiving worker exited ${code} before it answered`));
      worker.once('error', fail).once('exit', exit);
      worker.once('message', (message) => {
        worker.off('error', fail).off('exit', exit);
        resolve(message);
      });
    });
  await next();
  return {
    go: async () => {
      const answer = next();
      worker.postMessage('go');
      return (await answer) as number[];
    },
    stop: () => worker.terminate(),
  };
}

/**
 * undici-write-2: every other blob goes to a worker thread, which receives
 * them as undici-write does on connections of its own; this thread takes the
 * rest at the same time, through `agent`.
 */
async function receiveOnTwoThreads(target: FloorTarget, worker: ReadyWorker, agent: Agent): Promise<number[]> {
  try {
    const [ours, its] = await Promise.all([receive(target, halves(target.blobs).mine, CONNECTIONS / 2, agent, true), worker.go()]);
    return [...ours, ...its];
  } finally {
    // Also when this thread's half failed first: the worker must not keep the process alive.
    await worker.stop();
  }
}

/**
 * The worker's side of undici-write-2 (pull-floor-worker.mjs calls it, with
 * this module and undici already loaded): ready, then on 'go' its half.
 */
export async function receiveAsWorker(): Promise<void> {
  const { target, blobs } = workerData as WorkerTask;
  const agent = undiciAgent(target, CONNECTIONS / 2);
  parentPort!.postMessage('ready');
  await new Promise((resolve) => parentPort!.once('message', resolve));
  parentPort!.postMessage(await receive(target, blobs, CONNECTIONS / 2, agent, true));
  await agent.close();
}

/** One mode's transfer of every blob. */
export async function runFloor(mode: FloorMode, target: FloorTarget): Promise<FloorRun> {
  mkdirSync(target.scratch, { recursive: true });
  const twoThreads = mode === 'undici-write-2';
  const worker = twoThreads ? await startWorker(target, halves(target.blobs).theirs) : undefined;
  const agent = mode === 'tls' ? undefined : undiciAgent(target, twoThreads ? CONNECTIONS / 2 : CONNECTIONS);
  const cpuBefore = mainThreadCpuMs();
  const allBefore = process.cpuUsage();
  const started = performance.now();
  const sizes =
    worker !== undefined ? await receiveOnTwoThreads(target, worker, agent!) : await receive(target, target.blobs, CONNECTIONS, agent, mode === 'undici-write');
  const transferMs = performance.now() - started;
  const mainThreadCpu = mainThreadCpuMs() - cpuBefore;
  const all = process.cpuUsage(allBefore);
  await agent?.close();
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const expected = target.blobs.reduce((a, b) => a + b.size, 0);
  if (bytes !== expected) throw new Error(`${mode}: ${bytes} bytes received, ${expected} expected`);
  return { mode, node: process.version, transferMs, mainThreadCpuMs: mainThreadCpu, allThreadsCpuMs: (all.user + all.system) / 1000, bytes };
}

/** As a script: `pull-floor.ts <mode> <target as JSON>`, one FloorRun as JSON on stdout. */
async function main(): Promise<number> {
  const [mode, spec] = process.argv.slice(2);
  if (!FLOOR_MODES.includes(mode as FloorMode) || spec === undefined) throw new Error(`usage: pull-floor.ts ${FLOOR_MODES.join('|')} '<target JSON>'`);
  const target = JSON.parse(spec) as FloorTarget;
  try {
    process.stdout.write(`${JSON.stringify(await runFloor(mode as FloorMode, target))}\n`);
  } finally {
    rmSync(target.scratch, { recursive: true, force: true });
  }
  return 0;
}

// A worker runs with the process's argv: only the main thread is the script.
if (isMainThread) runWhenScript(import.meta.url, main);
