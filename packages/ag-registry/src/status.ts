import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Io, Logger, RegistryStatus } from '@ag/core';
import { readCertificateFacts } from './certs.js';
import { liveChild } from './child-record.js';
import { readCredentials } from './credentials.js';
import { localConnectHost, parseHostPort } from './endpoint.js';
import { registryPaths } from './paths.js';
import { probeRegistry, registryRequest, type RegistryTarget } from './probe.js';
import { isRunning } from './runner.js';
import { readState, type RegistryState } from './state.js';
import { purgeStaleUploads, storageFacts } from './storage.js';

/** status --gc while the registry runs leaves uploads written to in this time alone: they may be under way. */
const GC_RUNNING_AGE_MS = 10 * 60_000;

export interface StatusOptions {
  dir: string;
  /** Warn below this much free space in the storage (default 1 GiB). */
  minFreeBytes?: number;
  /** Remove distribution's stale partial uploads. */
  gc?: boolean;
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
}

export interface StatusResult {
  status: RegistryStatus;
  state?: RegistryState;
  /** It answers (or would), but TLS does not verify: a wrong CA, a name not covered, an expired certificate. */
  tlsFailed: boolean;
  /** It answers, but refuses the credentials in the registry directory's credentials file (401). */
  credentialsRefused?: boolean;
}

/** Follows `/v2/_catalog` pages (Link: rel="next") and counts repositories. */
async function countRepositories(target: RegistryTarget): Promise<number> {
  let path: string | undefined = '/v2/_catalog?n=1000';
  let count = 0;
  for (let pages = 0; path !== undefined && pages < 1000; pages++) {
    const res = await registryRequest(target, path, { maxBody: 16 << 20 });
    if (res.status !== 200) throw new Error(`/v2/_catalog answered ${res.status}`);
    count += ((JSON.parse(res.body) as { repositories?: string[] }).repositories ?? []).length;
    const link = res.headers['link'];
    path = typeof link === 'string' ? /<([^>]+)>;\s*rel="?next"?/.exec(link)?.[1] : undefined;
  }
  return count;
}

/** Blobs stored: distribution keeps each at blobs/sha256/<2 hex>/<hex>/data; a layout at blobs/sha256/<hex>. */
async function countBlobs(state: RegistryState, storage: string): Promise<number> {
  if (state.mode === 'embedded' && state.layout) {
    return (await readdir(join(state.layout, 'blobs', 'sha256'))).filter((name) => /^[a-f0-9]{64}$/.test(name)).length;
  }
  const root = join(storage, 'docker', 'registry', 'v2', 'blobs', 'sha256');
  let count = 0;
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    count += (await readdir(join(root, prefix)).catch(() => [] as string[])).length;
  }
  return count;
}

/**
 * Whether the registry of DIR runs, answers over TLS that verifies against
 * its CA for its endpoint, and how many repositories and blobs it holds.
 * Reads only; changes nothing.
 */
export async function status(options: StatusOptions): Promise<StatusResult> {
  const paths = registryPaths(options.dir);
  const checkedAt = new Date().toISOString();
  const state = await readState(paths);
  if (state === undefined) {
    return {
      status: { checkedAt, running: false, answering: false, tls: { valid: false, error: 'not checked' }, error: `no registry was started from ${paths.dir} (no run state)` },
      tlsFailed: false,
    };
  }
  const running = await isRunning(paths, state, options.io);
  const target: RegistryTarget = {
    endpoint: state.endpoint,
    connectHost: localConnectHost(parseHostPort(state.listen, 'listen')),
    ca: await readFile(paths.caCert, 'utf8'),
    credentials: await readCredentials(paths.credentials),
  };
  const probe = await probeRegistry(target);
  const result: RegistryStatus = {
    checkedAt,
    running,
    answering: probe.authenticated,
    tls: { valid: probe.answered && !probe.tlsError },
  };
  if (state.runner === 'process') {
    // running is the supervisor; a registry process without it is an orphan that nothing restarts.
    const orphan = running ? undefined : await liveChild(paths);
    result.supervised = running;
    if (orphan !== undefined) {
      result.running = true;
      options.log.debug(`registry process ${orphan.pid} runs without its supervisor`);
    }
  }
  const server = await readCertificateFacts(paths.serverCert).catch(() => undefined);
  let tlsFailed = probe.tlsError === true;
  if (probe.tlsError) result.tls.error = probe.error ?? 'TLS failed';
  else if (server !== undefined && Date.parse(server.notAfter) <= Date.now()) {
    result.tls = { valid: false, error: `the server certificate expired on ${server.notAfter}` };
    tlsFailed = true;
  } else if (!probe.answered) result.tls.error = 'not checked: the registry does not answer';
  if (!probe.answered) result.error = probe.error ?? `status ${probe.status}`;
  if (probe.authenticated) {
    try {
      result.repositories = await countRepositories(target);
    } catch (error) {
      options.log.warn(`could not list repositories: ${(error as Error).message}`);
    }
  }
  if (state.mode !== 'embedded') {
    try {
      const purged = options.gc ? await purgeStaleUploads(paths.storage, result.running ? GC_RUNNING_AGE_MS : 0) : undefined;
      result.storage = await storageFacts(paths.storage, options.minFreeBytes);
      if (purged !== undefined) result.storage.purgedUploads = purged;
    } catch (error) {
      options.log.warn(`could not measure the storage ${paths.storage}: ${(error as Error).message}`);
    }
  }
  try {
    result.blobs = await countBlobs(state, paths.storage);
  } catch (error) {
    options.log.warn(`could not count blobs: ${(error as Error).message}`);
  }
  return { status: result, state, tlsFailed, ...(probe.answered && probe.status === 401 ? { credentialsRefused: true } : {}) };
}
