import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { ensureCertificates } from '../certs.js';
import { ensureCredentials } from '../credentials.js';
import { registryPaths } from '../paths.js';

export interface ProbeReport extends NodeJS.MemoryUsage {
  eventLoopDelayP90Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  collected: boolean;
}

/** The embedded registry as its own process (`ag-registry serve-embedded`), as `up --mode embedded` runs it. */
export interface EmbeddedChild {
  base: string;
  pid: number;
  /** PEM of the CA the server certificate chains to. */
  ca: string;
  /** `Basic …` with the generated credentials. */
  authorization: string;
  accessLog: string;
  /** Resident memory of the server process (VmRSS), bytes. */
  rss(): Promise<number>;
  /** The server's process.memoryUsage() right after a forced garbage collection, and its event-loop delay since the last call (testing/memory-probe.ts). */
  memory(): Promise<ProbeReport>;
  stop(): Promise<void>;
}

/**
 * A port nothing listens on now (the OS picks it). The fixtures' freePort does the same, but a tool's
 * own files may import libraries only (nx module boundaries: type:cli depends on type:lib).
 */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/**
 * Starts `serve-embedded` on a free loopback port. `command`: how to run
 * ag-registry (default: from source under tsx, with testing/memory-probe.ts,
 * which memory() needs).
 */
export async function startEmbeddedChild(dir: string, layout: string, command?: string[]): Promise<EmbeddedChild> {
  const registryDir = join(dir, 'registry');
  await ensureCertificates({ dir: registryDir, names: { dns: ['localhost'], ips: ['127.0.0.1'] } });
  await ensureCredentials(registryDir);
  const paths = registryPaths(registryDir);
  const port = await freePort();
  const bin = join(import.meta.dirname, '..', 'bin.ts');
  const probe = join(import.meta.dirname, 'memory-probe.ts');
  const [program, ...args] = command ?? [process.execPath, '--expose-gc', '--import', 'tsx', '--import', probe, bin];
  // buffer: false: stderr is read here as it comes (memory() waits for a line on it), not gathered for the end.
  const child = execa(program!, [...args, 'serve-embedded', '--state-dir', registryDir, '--layout', layout, '--listen', `127.0.0.1:${port}`], {
    stdin: 'ignore',
    stdout: 'ignore',
    buffer: false,
    reject: false,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ca = await readFile(paths.caCert, 'utf8');
  const authorization = `Basic ${Buffer.from((await readFile(paths.credentials, 'utf8')).trim()).toString('base64')}`;
  const base = `https://127.0.0.1:${port}`;
  const agent = new Agent({ connect: { ca } });
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`serve-embedded exited: ${stderr}`);
      const answered = await request(`${base}/v2/`, { dispatcher: agent, headers: { authorization } }).then(
        async (res) => (await res.body.dump(), res.statusCode),
        () => 0,
      );
      if (answered === 200) break;
      // It answers, but not yes to the generated credentials (a password check that cannot run answers 500).
      if (answered !== 0) throw new Error(`serve-embedded answered ${answered} to the generated credentials: ${stderr}`);
      if (i > 300) throw new Error(`serve-embedded did not answer within 30 s: ${stderr}`);
      await sleep(100);
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    await agent.close();
  }
  return {
    base,
    pid: child.pid!,
    ca,
    authorization,
    accessLog: paths.accessLog,
    rss: () => rssOf(child.pid!),
    memory: () =>
      new Promise((resolveMemory) => {
        const from = stderr.length;
        const look = () => {
          const match = /memory-probe (\{.*\})\n/.exec(stderr.slice(from));
          if (match === null) return;
          child.stderr?.off('data', look);
          resolveMemory(JSON.parse(match[1]!) as ProbeReport);
        };
        child.stderr?.on('data', look);
        child.kill('SIGUSR2');
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The p-th percentile (0-100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}
