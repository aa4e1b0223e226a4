/**
 * ag's embedded registry against Debian's docker-registry (distribution), in
 * one run, on loopback over TLS with the generated credentials, both started
 * by `ag-registry up` (the embedded one serving the generated layout in place,
 * docker-registry filled by `ag-images push` from it):
 *
 *   manifest latency   C clients GET manifests by tag, one after another each, for --seconds: p50, p99
 *   blob throughput    C clients GET whole layers, for --seconds: MB/s
 *
 * for C in --clients (default 8,16,32,64), and each server's peak RSS
 * (VmHWM of its process). The load comes from this one Node process (one
 * keep-alive connection per client), the same for both. Not part of `npm test`.
 *
 *   npm run bench:registry [-- --layer 16M] [-- --images 4] [-- --seconds 3] [-- --clients 8,16,32,64] [-- --json] [-- --keep]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { freePort, generatedLayout, LINUX_AMD64, DOCKER_REGISTRY_BIN } from '@ag/fixtures';
import { parseBenchSize } from './bundle.js';
import { REPO_ROOT, runWhenScript } from './workspace.js';

const AG_REGISTRY = join(REPO_ROOT, 'packages', 'ag-registry', 'bin', 'ag-registry.cjs');
const AG_IMAGES = join(REPO_ROOT, 'packages', 'ag-images', 'bin', 'ag-images.cjs');
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

export interface LoadRow {
  clients: number;
  manifestP50Ms: number;
  manifestP99Ms: number;
  manifestsPerSecond: number;
  blobMBps: number;
  errors: number;
}

export interface ServerResult {
  server: 'embedded' | 'docker-registry';
  rows: LoadRow[];
  peakRssMiB: number;
}

interface Target {
  base: string;
  ca: string;
  authorization: string;
  pid: number;
  manifests: string[];
  blobs: string[];
}

function agRegistry(args: string[], input?: string): string {
  const result = spawnSync(process.execPath, [AG_REGISTRY, ...args], { encoding: 'utf8', input: input ?? '', maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`ag-registry ${args.join(' ')}: exit ${result.status}\n${result.stderr}`);
  return result.stdout;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

async function vm(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
}

/** C clients, each on its own connection, doing `one` back to back until the deadline. */
async function load(target: Target, clients: number, seconds: number, one: (agent: Agent, client: number, i: number) => Promise<number>): Promise<{ samples: number[]; errors: number; elapsedMs: number }> {
  const samples: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      const agent = new Agent({ connect: { ca: target.ca }, connections: 1 });
      try {
        for (let i = 0; performance.now() < deadline; i++) {
          try {
            samples.push(await one(agent, client, i));
          } catch {
            errors += 1;
          }
        }
      } finally {
        await agent.close();
      }
    }),
  );
  return { samples, errors, elapsedMs: performance.now() - started };
}

async function measureServer(target: Target, clientCounts: number[], seconds: number): Promise<LoadRow[]> {
  const headers = { authorization: target.authorization, accept: ACCEPT };
  const rows: LoadRow[] = [];
  for (const clients of clientCounts) {
    const manifests = await load(target, clients, seconds, async (agent, client, i) => {
      const t = performance.now();
      const res = await request(`${target.base}${target.manifests[(client + i) % target.manifests.length]}`, { dispatcher: agent, headers });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(String(res.statusCode));
      return performance.now() - t;
    });
    const blobs = await load(target, clients, seconds, async (agent, client, i) => {
      const res = await request(`${target.base}${target.blobs[(client + i) % target.blobs.length]}`, { dispatcher: agent, headers: { authorization: target.authorization } });
      let bytes = 0;
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      if (res.statusCode !== 200) throw new Error(String(res.statusCode));
      return bytes;
    });
    rows.push({
      clients,
      manifestP50Ms: percentile(manifests.samples, 50),
      manifestP99Ms: percentile(manifests.samples, 99),
      manifestsPerSecond: manifests.samples.length / (manifests.elapsedMs / 1000),
      blobMBps: blobs.samples.reduce((a, b) => a + b, 0) / 1e6 / (blobs.elapsedMs / 1000),
      errors: manifests.errors + blobs.errors,
    });
  }
  return rows;
}

/** The manifest and layer paths of each image, as the server itself describes them. */
async function describe(target: Omit<Target, 'manifests' | 'blobs'>, refs: string[]): Promise<Target> {
  const agent = new Agent({ connect: { ca: target.ca } });
  const manifests: string[] = [];
  const blobs: string[] = [];
  try {
    for (const ref of refs) {
      const colon = ref.lastIndexOf(':');
      const repository = ref.slice(0, colon);
      const path = `/v2/${repository}/manifests/${ref.slice(colon + 1)}`;
      const res = await request(`${target.base}${path}`, { dispatcher: agent, headers: { authorization: target.authorization, accept: ACCEPT } });
      const manifest = (await res.body.json()) as { layers?: Array<{ digest: string }> };
      if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode}`);
      manifests.push(path);
      for (const layer of manifest.layers ?? []) blobs.push(`/v2/${repository}/blobs/${layer.digest}`);
    }
  } finally {
    await agent.close();
  }
  return { ...target, manifests, blobs };
}

async function started(dir: string, document: string): Promise<Omit<Target, 'manifests' | 'blobs'>> {
  const registry = (JSON.parse(document) as { registry: { endpoint: string; caFile: string; credentialsFile: string } }).registry;
  const child = JSON.parse(await readFile(join(dir, 'run', 'registry.json'), 'utf8')) as { pid: number };
  return {
    base: `https://${registry.endpoint}`,
    ca: await readFile(registry.caFile, 'utf8'),
    authorization: `Basic ${Buffer.from((await readFile(registry.credentialsFile, 'utf8')).trim()).toString('base64')}`,
    pid: child.pid,
  };
}

export async function benchRegistry(options: { layerBytes: number; images: number; seconds: number; clients: number[]; work: string }): Promise<ServerResult[]> {
  const layoutDir = join(options.work, 'layout');
  const layout = await generatedLayout(layoutDir);
  const refs = Array.from({ length: options.images }, (_, i) => `example.org/bench/app${i}:1`);
  for (const [i, ref] of refs.entries()) {
    await layout.writeImageSpec({ ref, mediaTypes: 'oci', platforms: [{ platform: LINUX_AMD64, layers: [{ kind: 'random', size: options.layerBytes, seed: `bench-${i}` }] }] });
  }
  const results: ServerResult[] = [];
  for (const server of ['embedded', 'docker-registry'] as const) {
    const dir = join(options.work, server);
    const port = await freePort();
    const common = ['--dir', dir, '--listen', `127.0.0.1:${port}`, '--init', 'process', '--host', 'localhost', '--ip', '127.0.0.1'];
    const document = agRegistry(
      ['up', ...common, ...(server === 'embedded' ? ['--mode', 'embedded', '--layout', layoutDir] : ['--registry-binary', DOCKER_REGISTRY_BIN])],
    );
    try {
      if (server === 'docker-registry') {
        const pushed = spawnSync(process.execPath, [AG_IMAGES, 'push', ...refs, '--layout', layoutDir], { encoding: 'utf8', input: document, maxBuffer: 64 << 20 });
        if (pushed.status !== 0) throw new Error(`ag-images push: ${pushed.stderr}`);
      }
      const target = await describe(await started(dir, document), refs);
      const rows = await measureServer(target, options.clients, options.seconds);
      results.push({ server, rows, peakRssMiB: Math.round((await vm(target.pid, 'VmHWM')) / 2 ** 20) });
    } finally {
      agRegistry(['down', '--dir', dir]);
    }
  }
  return results;
}

export function formatRegistryBench(results: ServerResult[]): string {
  const lines = ['server           clients  manifest p50   p99      manifests/s  blobs MB/s  errors'];
  for (const result of results) {
    for (const row of result.rows) {
      lines.push(
        `${result.server.padEnd(16)} ${String(row.clients).padStart(7)}  ${row.manifestP50Ms.toFixed(2).padStart(8)} ms ${row.manifestP99Ms.toFixed(2).padStart(7)} ms ${row.manifestsPerSecond.toFixed(0).padStart(11)}  ${row.blobMBps.toFixed(0).padStart(10)}  ${String(row.errors).padStart(6)}`,
      );
    }
  }
  for (const result of results) lines.push(`${result.server}: peak RSS ${result.peakRssMiB} MiB`);
  const [embedded, docker] = results;
  if (embedded !== undefined && docker !== undefined) {
    for (const [i, row] of embedded.rows.entries()) {
      const other = docker.rows[i]!;
      lines.push(`${row.clients} clients: embedded/docker-registry manifest p50 ${(row.manifestP50Ms / other.manifestP50Ms).toFixed(2)}x, blob throughput ${(row.blobMBps / other.blobMBps).toFixed(2)}x`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      layer: { type: 'string', default: '16M' },
      images: { type: 'string', default: '4' },
      seconds: { type: 'string', default: '3' },
      clients: { type: 'string', default: '8,16,32,64' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const work = await mkdtemp(join(values.dir ?? tmpdir(), 'ag-bench-registry-'));
  try {
    const results = await benchRegistry({
      layerBytes: parseBenchSize(values.layer!),
      images: Number(values.images),
      seconds: Number(values.seconds),
      clients: values.clients!.split(',').map(Number),
      work,
    });
    process.stdout.write(`${values.json ? JSON.stringify(results, null, 2) : formatRegistryBench(results)}\n`);
    return 0;
  } finally {
    if (!values.keep) await rm(work, { recursive: true, force: true });
  }
}

runWhenScript(import.meta.url, main);
