import { request } from 'node:https';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Credentials } from './credentials.js';
import { parseHostPort } from './endpoint.js';

/** How to reach a registry and what to trust. */
export interface RegistryTarget {
  /** `host:port` as clients address it: the certificate must cover this host. */
  endpoint: string;
  /** Connect here instead of resolving the endpoint's host (a local listen address). */
  connectHost?: string;
  /** PEM of the CA to trust (and nothing else). */
  ca: string;
  credentials?: Credentials;
}

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Send the credentials (default true when the target has them). */
  authenticate?: boolean;
  /** Bytes of body to keep (the rest is drained). */
  maxBody?: number;
}

/**
 * One HTTPS request to a registry, trusting only its CA and checking the
 * certificate against the endpoint's host, wherever the connection goes.
 */
export function registryRequest(target: RegistryTarget, path: string, options: RequestOptions = {}): Promise<HttpsResponse> {
  const { host, port } = parseHostPort(target.endpoint, 'registry endpoint');
  const headers: Record<string, string> = { ...options.headers };
  if (target.credentials !== undefined && (options.authenticate ?? true)) {
    headers['authorization'] = `Basic ${Buffer.from(`${target.credentials.username}:${target.credentials.password}`).toString('base64')}`;
  }
  const maxBody = options.maxBody ?? 1 << 20;
  return new Promise((resolveResponse, reject) => {
    const req = request(
      {
        host: target.connectHost ?? host,
        port,
        path,
        method: options.method ?? 'GET',
        headers,
        ca: target.ca,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert),
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < maxBody) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        res.on('end', () => resolveResponse({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer from ${target.endpoint} within ${options.timeoutMs ?? 10_000} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

export interface ProbeResult {
  /** The server answered `/v2/` like a registry (200, or 401 asking for credentials). */
  answered: boolean;
  /** With the credentials, `/v2/` said 200. */
  authenticated: boolean;
  status?: number;
  /** Why it did not answer: connection refused, a TLS failure… */
  error?: string;
  /** The error was about TLS (certificate not trusted, name mismatch, expired). */
  tlsError?: boolean;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|HOSTNAME|ALTNAME|SSL|EPROTO/i;

/** Asks `/v2/` once. Never throws. */
export async function probeRegistry(target: RegistryTarget, timeoutMs = 5_000): Promise<ProbeResult> {
  try {
    const res = await registryRequest(target, '/v2/', { timeoutMs, maxBody: 4096 });
    const isRegistry = res.headers['docker-distribution-api-version'] !== undefined || res.status === 200 || res.status === 401;
    return {
      answered: isRegistry && (res.status === 200 || res.status === 401),
      authenticated: res.status === 200,
      status: res.status,
      ...(isRegistry ? {} : { error: `answered ${res.status}, not like a registry` }),
    };
  } catch (error) {
    const code = String((error as NodeJS.ErrnoException).code ?? '');
    const message = (error as Error).message;
    return { answered: false, authenticated: false, error: code ? `${code}: ${message}` : message, tlsError: TLS_CODES.test(code) || TLS_CODES.test(message) };
  }
}
