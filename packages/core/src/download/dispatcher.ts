import type { Dispatcher } from 'undici';
import { loadUndici } from '../lazy-modules.js';

/** The proxy settings found in an environment, curl's way: lowercase names win over uppercase. */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

function pick(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Reads `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (either case) from `env`. */
export function proxySettingsFromEnv(env: Record<string, string | undefined>): ProxySettings {
  const settings: ProxySettings = {};
  const httpProxy = pick(env, 'http_proxy');
  const httpsProxy = pick(env, 'https_proxy');
  const noProxy = pick(env, 'no_proxy');
  if (httpProxy !== undefined) settings.httpProxy = httpProxy;
  if (httpsProxy !== undefined) settings.httpsProxy = httpsProxy;
  if (noProxy !== undefined) settings.noProxy = noProxy;
  return settings;
}

/**
 * The proxy a connection to `url` goes through, by the rules undici's
 * EnvHttpProxyAgent applies to the same settings (undici 7.30,
 * lib/dispatcher/env-http-proxy-agent.js, `#getProxyAgentForUrl`,
 * `#shouldProxy`, `#parseNoProxy`; proxy-for.test.ts holds the two to the
 * same answers), for the few connections ag opens without undici (a bare
 * TLS handshake): an https URL goes through HTTPS_PROXY, else HTTP_PROXY; an
 * http URL through HTTP_PROXY. NO_PROXY lists `host[:port]` entries separated
 * by commas or spaces, `*` alone for every host; an entry (a leading `.` or
 * `*.` dropped) matches its host and the hosts under it, and with a port
 * only that port. Undefined: connect directly.
 */
export function proxyFor(url: URL, settings: ProxySettings): string | undefined {
  const proxy = url.protocol === 'https:' ? (settings.httpsProxy ?? settings.httpProxy) : settings.httpProxy;
  if (proxy === undefined) return undefined;
  const noProxy = settings.noProxy ?? '';
  if (noProxy === '*') return undefined;
  // url.host without its port, IPv6 brackets kept (as undici compares it).
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(url.port, 10) || (url.protocol === 'https:' ? 443 : 80);
  for (const entry of noProxy.split(/[,\s]/)) {
    if (entry === '') continue;
    const withPort = /^(.+):(\d+)$/.exec(entry);
    const name = (withPort ? withPort[1]! : entry).replace(/^\*?\./, '').toLowerCase();
    if (withPort && Number.parseInt(withPort[2]!, 10) !== port) continue;
    if (hostname === name || hostname.endsWith(`.${name}`)) return undefined;
  }
  return proxy;
}

export interface HttpDispatcherOptions {
  /** Where proxy settings come from; `process.env` when not given. */
  env?: Record<string, string | undefined>;
  /** How long to wait for a TCP/TLS connection. Default 15 s. */
  connectTimeoutMs?: number;
  /** How long to wait for response headers, and between body chunks. Default 120 s. */
  idleTimeoutMs?: number;
  /** Connections per origin. Default 8. */
  connections?: number;
}

/**
 * An undici dispatcher for every outbound HTTP(S) request ag makes: a plain
 * connection pool, or, when the environment names a proxy, undici's
 * EnvHttpProxyAgent (CONNECT tunnels through `HTTPS_PROXY`/`HTTP_PROXY`,
 * `NO_PROXY` bypasses). Proxy settings come only from `env`, never from the
 * process environment behind the caller's back, so tests and library callers
 * get exactly what they pass.
 *
 * Deliberately does not follow redirects or retry: see `requestFollowingRedirects` and `withRetry`.
 */
export async function createHttpDispatcher(options: HttpDispatcherOptions = {}): Promise<Dispatcher> {
  // undici is loaded only when a command talks to the network, so `--help` stays fast.
  const { Agent, EnvHttpProxyAgent } = await loadUndici();
  const agentOptions = {
    connect: { timeout: options.connectTimeoutMs ?? 15_000 },
    headersTimeout: options.idleTimeoutMs ?? 120_000,
    bodyTimeout: options.idleTimeoutMs ?? 120_000,
    connections: options.connections ?? 8,
  };
  const proxy = proxySettingsFromEnv(options.env ?? process.env);
  if (proxy.httpProxy === undefined && proxy.httpsProxy === undefined) return new Agent(agentOptions);
  // NB: EnvHttpProxyAgent falls back to process.env for any option left undefined; '' means "none" to it.
  return new EnvHttpProxyAgent({
    ...agentOptions,
    httpProxy: proxy.httpProxy ?? '',
    httpsProxy: proxy.httpsProxy ?? '',
    noProxy: proxy.noProxy ?? '',
  });
}

/**
 * One request to `url` through `dispatcher`: what undici's top-level
 * `request(url, { dispatcher })` does (makeDispatcher in undici's index.js),
 * through the dispatcher's own method, so that only undici's pools are loaded
 * (lazy-modules.ts `UndiciDispatchers`).
 */
export function dispatchRequest(dispatcher: Dispatcher, url: URL, options: Omit<Dispatcher.RequestOptions, 'origin' | 'path'>): Promise<Dispatcher.ResponseData> {
  return dispatcher.request({ ...options, origin: url.origin, path: `${url.pathname}${url.search}` });
}

/** Removes user:password from a proxy URL, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = parsed.username === '' ? '' : '***';
    parsed.password = parsed.password === '' ? '' : '***';
    return parsed.href;
  } catch {
    return url;
  }
}
