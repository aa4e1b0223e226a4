import { connect, checkServerIdentity, type PeerCertificate, type TLSSocket } from 'node:tls';
import {
  AgError,
  createLimiter,
  formatReference,
  formatRegistryTarget,
  internalReference,
  messageWithCode,
  parseReference,
  proxyFor,
  proxySettingsFromEnv,
  redactUrl,
  RegistryClient,
  tlsFor,
  type Credentials,
  type ExitCodeName,
  type Logger,
  type RegistryStatus,
  type RegistryTarget,
} from '@ag/core';
import { tunnelThrough } from './proxy-tunnel.js';

export interface ExternalStatusOptions {
  /** The site's registry and the prefix ag's names live under. */
  target: RegistryTarget;
  /** CA files to trust besides the system trust store (`--ca-file`, or the document's caFile). */
  caFiles: string[];
  /** certs.d directories (default: Docker's and podman's). */
  certsDirs?: string[];
  /** The credentials to try; none: anonymous. */
  credentials?: Credentials;
  /** The bundle's images (upstream references): each is looked for under the prefix. */
  refs: string[];
  env: Record<string, string | undefined>;
  log: Logger;
  timeoutMs?: number;
}

export interface ExternalStatusResult {
  status: RegistryStatus;
  /** The worst finding, as an error kind (exit code); undefined when all is well. */
  failure?: ExitCodeName;
}

interface TlsFacts {
  /** The TLS handshake completed (whatever the verdict). */
  connected: boolean;
  valid: boolean;
  notAfter?: string;
  error?: string;
}

/** `host[:port]` -> host and port (443 when none), IPv6 brackets dropped for the socket. */
function hostAndPort(host: string): { name: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  return { name: (match?.[1] ?? host).replace(/^\[|\]$/g, ''), port: Number(match?.[2] ?? 443) };
}

/**
 * One TLS handshake with the registry, trusting what the registry client
 * trusts (the system store, the CA files, certs.d), over the path it takes
 * (through the proxy HTTPS_PROXY names unless NO_PROXY exempts the host, as
 * undici does for the client): whether the chain and the name verify, and
 * until when the certificate is valid. Never throws.
 */
async function checkTls(options: ExternalStatusOptions): Promise<TlsFacts> {
  const { name, port } = hostAndPort(options.target.host);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { secureContext } = await tlsFor([options.target.host], {
    caFiles: options.caFiles,
    ...(options.certsDirs ? { certsDirs: options.certsDirs } : {}),
    env: options.env,
  });
  const handshake = { servername: /^[\d.]+$|:/.test(name) ? undefined : name, secureContext, rejectUnauthorized: false };
  const proxy = proxyFor(new URL(`https://${options.target.host}`), proxySettingsFromEnv(options.env));
  let socket: TLSSocket;
  if (proxy === undefined) {
    socket = connect({ host: name, port, ...handshake, timeout: timeoutMs });
  } else {
    try {
      socket = connect({ socket: await tunnelThrough(proxy, name, port, timeoutMs), ...handshake });
    } catch (error) {
      return { connected: false, valid: false, error: (error as Error).message };
    }
    socket.setTimeout(timeoutMs);
  }
  const through = proxy === undefined ? '' : ` through the proxy ${redactUrl(proxy)}`;
  return new Promise((resolveFacts) => {
    const done = (facts: TlsFacts): void => {
      socket.destroy();
      resolveFacts(facts);
    };
    socket.once('secureConnect', () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      const notAfter = cert.valid_to ? new Date(cert.valid_to).toISOString() : undefined;
      const chain = socket.authorized ? undefined : String(socket.authorizationError ?? 'not trusted');
      const identity = checkServerIdentity(name, cert)?.message;
      const expired = notAfter !== undefined && Date.parse(notAfter) <= Date.now();
      const error = chain ?? identity ?? (expired ? `the server certificate expired on ${notAfter}` : undefined);
      done({ connected: true, valid: error === undefined, ...(notAfter ? { notAfter } : {}), ...(error ? { error } : {}) });
    });
    socket.once('timeout', () => done({ connected: false, valid: false, error: `no TLS answer from ${options.target.host}${through} within ${timeoutMs} ms` }));
    socket.once('error', (error: Error) => done({ connected: false, valid: false, error: `${messageWithCode(error)}${through}` }));
  });
}

/**
 * Reports on a registry ag-registry did not start (the site's Harbor,
 * Nexus, Artifactory, or any distribution registry), from the outside only:
 * it answers on its port, its TLS verifies (and until when), `/v2/` accepts
 * the credentials, and which of the bundle's images are there under the
 * prefix (one HEAD of each manifest). Reads only; changes nothing.
 *
 * The failure is the first that stops the rest: unreachable (4), TLS not
 * valid (3), credentials refused (8), then images missing (5).
 */
export async function externalStatus(options: ExternalStatusOptions): Promise<ExternalStatusResult> {
  const checkedAt = new Date().toISOString();
  const where = formatRegistryTarget(options.target);
  const tls = await checkTls(options);
  const status: RegistryStatus = {
    checkedAt,
    running: tls.connected,
    answering: false,
    tls: { valid: tls.valid, ...(tls.notAfter ? { notAfter: tls.notAfter } : {}), ...(tls.error ? { error: tls.error } : {}) },
  };
  if (!tls.connected) return { status: { ...status, error: tls.error ?? 'no answer' }, failure: 'unreachable' };
  if (!tls.valid) return { status, failure: 'verification' };

  const client = new RegistryClient({
    registry: options.target.host,
    caFiles: options.caFiles,
    ...(options.certsDirs ? { certsDirs: options.certsDirs } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    lookupCredentials: false,
    env: options.env,
    retry: { retries: 1 },
  });
  try {
    try {
      await client.ping();
    } catch (error) {
      const failure = error instanceof AgError ? error : undefined;
      if (failure?.kind === 'credentials') return { status: { ...status, credentialsAccepted: false, error: failure.message }, failure: 'credentials' };
      return { status: { ...status, error: failure?.message ?? String(error) }, failure: 'unreachable' };
    }
    status.answering = true;
    if (options.credentials !== undefined) status.credentialsAccepted = true;
    if (options.refs.length === 0) return { status };

    const limit = createLimiter(8);
    const missing: string[] = [];
    const found = await Promise.allSettled(
      options.refs.map((ref) =>
        limit(async () => {
          const upstream = parseReference(ref);
          const inside = internalReference(upstream, options.target);
          const there = await client.headManifest(inside.repository, upstream.digest ?? upstream.tag ?? 'latest');
          if (there === undefined) missing.push(formatReference(inside));
        }),
      ),
    );
    const refused = found.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused !== undefined) {
      const error = refused.reason instanceof AgError ? refused.reason : undefined;
      const kind = error?.kind === 'credentials' ? 'credentials' : 'unreachable';
      return { status: { ...status, ...(kind === 'credentials' ? { credentialsAccepted: false } : {}), error: error?.message ?? String(refused.reason) }, failure: kind };
    }
    status.images = { checked: options.refs.length, present: options.refs.length - missing.length, missing: missing.sort() };
    if (missing.length > 0) {
      options.log.debug(`${where}: ${missing.length} of ${options.refs.length} image(s) missing`);
      return { status, failure: 'missing' };
    }
    return { status };
  } finally {
    await client.close();
  }
}
