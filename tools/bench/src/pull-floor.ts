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
 *
 * Measured from the first connection to the last byte (the process's own
 * start is left out), with the main thread's CPU time from
 * /proc/self/task/<pid>/stat (10 ms ticks): the work that cannot leave
 * that thread without copying bytes to another.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writevSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { Agent } from 'undici';
import { createLimiter } from '@ag/core';
import { runWhenScript } from './workspace.js';

export const FLOOR_MODES = ['tls', 'undici', 'undici-write'] as const;
export type FloorMode = (typeof FLOOR_MODES)[number];

/** Where the blobs are and how to ask for them. */
export interface FloorTarget {
  /** `host:port` of the registry (TLS). */
  host: string;
  caFile: string;
  /** `user:password` (Basic). */
  credentials: string;
  blobs: Array<{ repository: string; digest: string; size: number }>;
  /** Where undici-write puts its files (emptied after). */
  scratch: string;
}

export interface FloorRun {
  mode: FloorMode;
  node: string;
  transferMs: number;
  mainThreadCpuMs: number;
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
    fsyncSync(fd);
    closeSync(fd);
    const digest = `sha256:${hash!.digest('hex')}`;
    if (digest !== blob.digest) throw new Error(`GET ${blob.digest}: the bytes hash to ${digest}`);
  }
  return total;
}

/** One mode's transfer of every blob. */
export async function runFloor(mode: FloorMode, target: FloorTarget): Promise<FloorRun> {
  const ca = readFileSync(target.caFile);
  const agent = mode === 'tls' ? undefined : new Agent({ connect: { ca }, connections: CONNECTIONS });
  mkdirSync(target.scratch, { recursive: true });
  const cpuBefore = mainThreadCpuMs();
  const started = performance.now();
  const limit = createLimiter(CONNECTIONS);
  const sizes = await Promise.all(target.blobs.map((blob) => limit(() => (agent === undefined ? tlsGet(target, ca, blob) : undiciGet(agent, target, blob, mode === 'undici-write')))));
  const transferMs = performance.now() - started;
  const mainThreadCpu = mainThreadCpuMs() - cpuBefore;
  await agent?.close();
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const expected = target.blobs.reduce((a, b) => a + b.size, 0);
  if (bytes !== expected) throw new Error(`${mode}: ${bytes} bytes received, ${expected} expected`);
  return { mode, node: process.version, transferMs, mainThreadCpuMs: mainThreadCpu, bytes };
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

runWhenScript(import.meta.url, main);
