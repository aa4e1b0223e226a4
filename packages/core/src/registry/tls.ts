import { readdir, readFile } from 'node:fs/promises';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { UsageError } from '../errors.js';
import { proxySettingsFromEnv } from '../download/dispatcher.js';
import { loadUndici } from '../lazy-modules.js';

/** Where Docker and podman look for a registry's CA and client certificate (`<dir>/<host[:port]>/`). */
export const DEFAULT_CERTS_DIRS: readonly string[] = ['/etc/docker/certs.d', '/etc/containers/certs.d'];

/** The system trust store's PEM bundle, where distributions keep it. */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
];

export interface TlsSettings {
  /** Extra CA files trusted for every host (`--ca-file`). */
  caFiles?: string[];
  /** certs.d directories searched per host (default DEFAULT_CERTS_DIRS). */
  certsDirs?: readonly string[];
  /** Accept any certificate (`--insecure-skip-tls-verify`). */
  insecureSkipVerify?: boolean;
  env?: Record<string, string | undefined>;
}

/** What undici's connector passes to tls.connect for one host. */
export interface ConnectTls {
  /** Built once per host: parsing a few hundred roots per connection would cost milliseconds each. */
  secureContext: SecureContext;
  rejectUnauthorized?: boolean;
}

let localRoots: Promise<string[]> | undefined;

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function normalizePem(pem: string): string {
  return pem.replace(/\s+/g, '');
}

/**
 * The system trust store's certificates that Node does not already carry
 * (a site's own CAs, added with update-ca-certificates): Node's bundled roots
 * are Mozilla's, like most distributions' stores, and parsing a few hundred
 * certificates again per connection pool would cost a noticeable fraction of
 * a second. Read once per process.
 */
function loadLocalRoots(env: Record<string, string | undefined>): Promise<string[]> {
  localRoots ??= (async () => {
    const bundled = new Set(rootCertificates.map(normalizePem));
    for (const path of [env['SSL_CERT_FILE'], ...SYSTEM_BUNDLES]) {
      if (!path) continue;
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text !== undefined) return pemBlocks(text).filter((pem) => !bundled.has(normalizePem(pem)));
    }
    return [];
  })();
  return localRoots;
}

/**
 * A secure context trusting Node's bundled roots plus `extra`. Adding to the
 * default context copies the already parsed roots instead of parsing them
 * again (what `ca:` would do, since it replaces the roots).
 */
function secureContextWith(extra: string[], cert: string | undefined, key: string | undefined): SecureContext {
  const context = createSecureContext(cert !== undefined ? { cert, key } : {});
  const native = (context as unknown as { context?: { addCACert?: (pem: string) => void } }).context;
  if (extra.length === 0) return context;
  if (typeof native?.addCACert === 'function') {
    for (const pem of extra) native.addCACert(pem);
    return context;
  }
  return createSecureContext({ ca: [...rootCertificates, ...extra], ...(cert !== undefined ? { cert, key } : {}) });
}

/**
 * The TLS options for connections to `host` (`host[:port]`): the system roots,
 * `--ca-file`s, and from each certs.d directory `<host>/*.crt` as CAs and a
 * `*.cert`/`*.key` pair as client certificate (Docker's convention).
 */
export async function tlsFor(hosts: string | string[], settings: TlsSettings): Promise<ConnectTls> {
  const env = settings.env ?? {};
  const ca = [...(await loadLocalRoots(env))];
  for (const file of settings.caFiles ?? []) {
    try {
      ca.push(await readFile(file, 'utf8'));
    } catch (error) {
      throw new UsageError(`--ca-file ${file}: ${(error as Error).message}`);
    }
  }
  let cert: string | undefined;
  let key: string | undefined;
  const dirs = (settings.certsDirs ?? DEFAULT_CERTS_DIRS).flatMap((base) => (Array.isArray(hosts) ? hosts : [hosts]).map((host) => join(base, host)));
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      if (name.endsWith('.crt')) ca.push(await readFile(join(dir, name), 'utf8'));
      if (name.endsWith('.cert') && cert === undefined) {
        const keyName = names.find((n) => n === name.replace(/\.cert$/, '.key'));
        if (keyName === undefined) throw new UsageError(`${join(dir, name)} has no matching .key file`);
        cert = await readFile(join(dir, name), 'utf8');
        key = await readFile(join(dir, keyName), 'utf8');
      }
    }
  }
  const tls: ConnectTls = { secureContext: secureContextWith(ca, cert, key) };
  if (settings.insecureSkipVerify) tls.rejectUnauthorized = false;
  return tls;
}

/**
 * An undici dispatcher for one origin's TLS settings, through the proxy the
 * environment names (HTTPS_PROXY/NO_PROXY, as the downloader reads them).
 */
export async function createTlsDispatcher(tls: ConnectTls | undefined, env: Record<string, string | undefined>): Promise<Dispatcher> {
  const { Agent, EnvHttpProxyAgent } = await loadUndici();
  const options = {
    connect: { timeout: 15_000, ...tls },
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
    connections: 8,
  };
  const proxy = proxySettingsFromEnv(env);
  if (proxy.httpProxy === undefined && proxy.httpsProxy === undefined) return new Agent(options);
  return new EnvHttpProxyAgent({
    ...options,
    ...(tls ? { requestTls: tls } : {}),
    httpProxy: proxy.httpProxy ?? '',
    httpsProxy: proxy.httpsProxy ?? '',
    noProxy: proxy.noProxy ?? '',
  });
}
