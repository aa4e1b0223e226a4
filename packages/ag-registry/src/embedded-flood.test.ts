/**
 * The embedded registry under floods, as its own process on loopback
 * (bounded): wrong passwords beside a legitimate client, and idle
 * connections. What the issue measured before: the legitimate client's
 * manifest latency went from 12 ms to 300-370 ms under 3,200 wrong passwords;
 * 21,600 idle connections exhausted the file limit and left 1.2 GB RSS.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedLayout, LINUX_AMD64, pauseStandIn } from '@ag/fixtures';
import { percentile, startEmbeddedChild, type EmbeddedChild } from './testing/embedded-child.js';

const REF = 'registry.k8s.io/pause:3.9';
const MANIFEST_PATH = '/v2/registry.k8s.io/pause/manifests/3.9';
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

let dir: string;
let registry: EmbeddedChild;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-flood-'));
  const layout = await generatedLayout(join(dir, 'layout'));
  await layout.writeImageSpec({ ref: REF, mediaTypes: 'oci', platforms: [pauseStandIn(LINUX_AMD64)] });
  registry = await startEmbeddedChild(dir, join(dir, 'layout'));
});

afterAll(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** A legitimate client: one keep-alive connection, manifest GETs one after another, each one's latency (ms). */
async function manifestLatencies(count: number): Promise<number[]> {
  const agent = new Agent({ connect: { ca: registry.ca }, connections: 1 });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const res = await request(`${registry.base}${MANIFEST_PATH}`, { dispatcher: agent, headers: { authorization: registry.authorization, accept: ACCEPT } });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`manifest: ${res.statusCode}`);
      latencies.push(performance.now() - started);
      await sleep(5);
    }
  } finally {
    await agent.close();
  }
  return latencies;
}

describe('the embedded registry under floods', () => {
  it('a wrong-password flood (16 clients x up to 100 attempts, distinct passwords) is slowed, and the verified client stays fast', async () => {
    await manifestLatencies(20); // warm: the legitimate credential is verified once and remembered
    await registry.memory(); // resets the server's event-loop delay histogram
    const baseline = await manifestLatencies(100);
    const quiet = await registry.memory();
    let answered = 0;
    let unauthorized = 0;
    const deadline = Date.now() + 8_000;
    const flood = Array.from({ length: 16 }, async (_, client) => {
      const agent = new Agent({ connect: { ca: registry.ca }, connections: 1 });
      try {
        for (let attempt = 0; attempt < 100 && Date.now() < deadline; attempt++) {
          const wrong = `Basic ${Buffer.from(`ag:wrong-${client}-${attempt}`).toString('base64')}`;
          const res = await request(`${registry.base}${MANIFEST_PATH}`, { dispatcher: agent, headers: { authorization: wrong, accept: ACCEPT } });
          await res.body.dump();
          answered += 1;
          if (res.statusCode === 401) unauthorized += 1;
        }
      } finally {
        await agent.close();
      }
    });
    const during = await manifestLatencies(200);
    await Promise.all(flood);
    const loop = await registry.memory();
    const figures = {
      serverLoopDelayQuietP90Ms: quiet.eventLoopDelayP90Ms,
      serverLoopDelayP90Ms: loop.eventLoopDelayP90Ms,
      serverLoopDelayP99Ms: loop.eventLoopDelayP99Ms,
      serverLoopDelayMaxMs: loop.eventLoopDelayMaxMs,
      baselineP50: percentile(baseline, 50),
      baselineP99: percentile(baseline, 99),
      floodP50: percentile(during, 50),
      floodP99: percentile(during, 99),
      attempts: answered,
    };
    console.log(`wrong-password flood: ${JSON.stringify(figures)}`);
    expect(unauthorized).toBe(answered);
    // Each address past 5 recent failures waits 100 ms doubling to 2 s per attempt: far fewer than 1,600 get through in 8 s.
    expect(answered).toBeLessThan(400);
    // The bound: docker-registry's 30-100 ms under the same flood; before this change 300-370 ms.
    // A loaded machine slows the quiet baseline too; the bound then follows it (three times the baseline).
    expect(figures.floodP50).toBeLessThan(Math.max(30, 3 * figures.baselineP50));
    expect(figures.floodP99).toBeLessThan(Math.max(150, 3 * figures.baselineP99));
    // Every answered attempt was a distinct password, so a bcrypt check (never a remembered verdict); they ran on
    // the worker thread, and the server's event loop was not held by them (the histogram samples every 10 ms; p90,
    // as one stall of a loaded shared machine says nothing about the server).
    expect(answered).toBeGreaterThan(20);
    expect(figures.serverLoopDelayP90Ms).toBeLessThan(Math.max(25, 3 * figures.serverLoopDelayQuietP90Ms));
  });

  it('idle-connection floods (2,000 TCP + 1,000 TLS each, loopback) are closed within seconds, fds come back, and RSS does not grow flood after flood', async () => {
    await manifestLatencies(20);
    const baseline = await registry.rss();
    const baselineMemory = await registry.memory();
    const baselineFds = await openFds(registry.pid);
    const port = Number(new URL(registry.base).port);

    const flood = async () => {
      const sockets: Socket[] = [];
      let closedByServer = 0;
      // Connections whose connect completed, and of them those that closed: only those were the server's to close.
      let connected = 0;
      let connectedThenClosed = 0;
      // How long each connection lived once accepted (the listen backlog delays some connects by seconds).
      let longestMs = 0;
      const track = (socket: Socket) => {
        let connectedAt: number | undefined;
        socket.on('connect', () => {
          connectedAt = Date.now();
          connected += 1;
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          closedByServer += 1;
          if (connectedAt !== undefined) {
            connectedThenClosed += 1;
            longestMs = Math.max(longestMs, Date.now() - connectedAt);
          }
        });
        sockets.push(socket);
      };
      // In batches the listen backlog (511) takes: beyond it the kernel answers with SYN cookies, and a silent
      // client then holds a connection the server never saw.
      for (let batch = 0; batch < 8; batch++) {
        for (let i = 0; i < 250; i++) track(tcpConnect({ host: '127.0.0.1', port }));
        await sleep(100);
      }
      for (let batch = 0; batch < 4; batch++) {
        await Promise.all(
          Array.from({ length: 250 }, () => {
            const socket = tlsConnect({ host: '127.0.0.1', port, ca: registry.ca, servername: 'localhost' });
            track(socket);
            return new Promise((resolveHandshake) => {
              socket.once('secureConnect', resolveHandshake);
              socket.once('close', resolveHandshake);
            });
          }),
        );
      }
      const peak = await registry.rss();
      const peakFds = await openFds(registry.pid);
      const opened = Date.now();
      // Handshake and first-request deadlines are 10 s each.
      while (closedByServer < sockets.length && Date.now() - opened < 30_000) await sleep(250);
      // A loopback flood on a loaded machine can overflow the accept queue: the kernel then completes a few
      // handshakes (SYN cookies) the server never accepts, and a silent client holds them open forever. Those are
      // counted apart; the server can only close what it accepted. A connect whose SYN was dropped and is still
      // being retried (1, 3, 7, 15, 31 s) never reached the server at all: counted apart too.
      const neverClosed = connected - connectedThenClosed;
      const neverConnected = sockets.length - connected;
      const closedLongestMs = longestMs;
      for (const socket of sockets) socket.destroy();
      // It still serves.
      const after = await manifestLatencies(20);
      // Freed memory goes back as V8 collects and the allocator trims: the lowest of a few samples.
      let settled = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 5; i++) {
        await sleep(1_000);
        settled = Math.min(settled, await registry.rss());
      }
      const memory = await registry.memory();
      return {
        neverClosed,
        neverConnected,
        longestMs: closedLongestMs,
        peakMiB: peak >> 20,
        peakFds,
        settled,
        settledMiB: settled >> 20,
        settledFds: await openFds(registry.pid),
        afterP50: percentile(after, 50),
        heapUsedMiB: memory.heapUsed / 2 ** 20,
        externalMiB: memory.external / 2 ** 20,
        memory,
      };
    };

    const first = await flood();
    const second = await flood();
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    const print = ({ memory: _memory, settled: _settled, ...run }: typeof first) => ({ ...run, heapUsedMiB: mib(run.heapUsedMiB * 2 ** 20), externalMiB: mib(run.externalMiB * 2 ** 20) });
    console.log(
      `idle-connection floods: ${JSON.stringify({ baselineMiB: mib(baseline), baselineHeapUsedMiB: mib(baselineMemory.heapUsed), baselineFds, first: print(first), second: print(second) })}`,
    );
    expect(baselineMemory.collected).toBe(true);
    for (const run of [first, second]) {
      // A server without idle deadlines leaves all 3,000 open; the accept queue's overflow leaves a few the server
      // never accepted (0 to 2 quiet; 7 in a fresh-clone CI run on the loaded 2 cores, when the bound was 5).
      expect(run.neverClosed).toBeLessThanOrEqual(20);
      // A server that stopped accepting would leave hundreds unconnected; the kernel's retries leave a few.
      expect(run.neverConnected).toBeLessThanOrEqual(30);
      // 10 s for a handshake, 10 s from a handshake to a first request (Node's defaults: 120 s, then never).
      expect(run.longestMs).toBeLessThan(22_000);
      expect(run.peakFds).toBeGreaterThan(baselineFds + 1_000);
      expect(run.settledFds).toBeLessThanOrEqual(baselineFds + 2);
    }
    // No leak in the JavaScript heap: after a forced collection, what is live is what was live before the floods
    // (measured: 18 MiB before and after each of three floods; the margin covers the parsers Node keeps for reuse,
    // at most 1,000, and lazily compiled code). Nor in memory Node accounts outside the heap (TLS, buffers).
    for (const run of [first, second]) {
      expect(run.memory.heapUsed - baselineMemory.heapUsed).toBeLessThan(8 << 20);
      expect(run.memory.external - baselineMemory.external).toBeLessThan(4 << 20);
    }
    // RSS does not come all the way back, and need not: glibc's malloc keeps the freed native memory of 3,000
    // connections (OpenSSL's per-connection state, socket buffers) in its arenas for reuse rather than returning it.
    // That is bounded, not a leak: a second flood mostly reuses it (measured after three floods in a row: +54, +27
    // and +51 MiB over the baseline; the second 21-24 MiB above the first in the test's runs). A native leak of the
    // TLS connections' state (~50 KiB each, the CONNECTIONS_CEILING estimate) would add ~50 MiB per flood of 1,000.
    // One flood's growth past 40 MiB happens when the arenas fragment (once in about seven CI runs: +53 MiB);
    // a leak grows every flood, so then a third flood must stay within 40 MiB of the second.
    expect(first.settled - baseline).toBeLessThan(128 << 20);
    if (second.settled - first.settled >= 40 << 20) {
      const third = await flood();
      console.log(`idle-connection floods: the second grew ${mib(second.settled - first.settled)} MiB; a third: ${JSON.stringify(print(third))}`);
      expect(third.settled - second.settled).toBeLessThan(40 << 20);
    }
    const log = await readFile(registry.accessLog, 'utf8');
    expect(log).toMatch(/GET \/v2\/registry\.k8s\.io\/pause\/manifests\/3\.9 200/);
  }, 240_000);
});
