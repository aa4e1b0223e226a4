import { RegistryClient, type Io, type Logger, type RegistryClientOptions, type RetryPolicy } from '@ag/core';

/** How to reach registries: TLS, credentials, retries. Shared by pull and push. */
export interface ConnectionOptions {
  /** Extra CA files (`--ca-file`). */
  caFiles?: string[];
  /** certs.d directories to search (default /etc/docker/certs.d and /etc/containers/certs.d). */
  certsDirs?: string[];
  insecureSkipTlsVerify?: boolean;
  plainHttp?: boolean;
  /** Credentials given on the command line (or the document's file), with where they came from. */
  credentials?: { username: string; password: string; source: string };
  /** The registry the explicit credentials are for; they are never sent elsewhere. */
  credentialsFor?: string;
  retries?: number;
  /** How long refused connections are retried (a registry restarting); default 30 s. */
  retryWindowMs?: number;
  env: Io['env'];
  log?: Logger;
  signal?: AbortSignal;
}

/** One client per registry host, created on first use and closed together. */
export class Connections {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly options: ConnectionOptions;

  constructor(options: ConnectionOptions) {
    this.options = options;
  }

  client(registry: string): RegistryClient {
    let client = this.clients.get(registry);
    if (client === undefined) {
      const o = this.options;
      const retry: Partial<RetryPolicy> = {
        ...(o.retries === undefined ? {} : { retries: o.retries }),
        ...(o.retryWindowMs === undefined ? {} : { refusedWindowMs: o.retryWindowMs }),
      };
      const options: RegistryClientOptions = {
        registry,
        env: o.env,
        retry,
        ...(o.caFiles ? { caFiles: o.caFiles } : {}),
        ...(o.certsDirs ? { certsDirs: o.certsDirs } : {}),
        ...(o.insecureSkipTlsVerify ? { insecureSkipVerify: true } : {}),
        ...(o.plainHttp ? { plainHttp: true } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.credentials && o.credentialsFor === registry ? { credentials: o.credentials } : {}),
        onRetry: (event) => o.log?.warn(`${event.doing}: ${event.error.message}; retrying in ${(event.delayMs / 1000).toFixed(1)} s`),
      };
      client = new RegistryClient(options);
      this.clients.set(registry, client);
    }
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}

/** `--password-stdin` is read as every tool reads it (core). */
export { readPasswordFromStdin } from '@ag/core';
