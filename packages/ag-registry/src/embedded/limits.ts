import { readFileSync } from 'node:fs';

/** File descriptors kept free for the layout's blobs, the log and Node itself. */
const FD_RESERVE = 256;
/** Even with a huge file limit, more connections than this only cost memory (~50 KiB of TLS state each). */
const CONNECTIONS_CEILING = 4_096;

/** The soft limit on open files (`Max open files` in /proc/self/limits; Node raises it to the hard limit at start). */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** How many connections the embedded server accepts at once: below the file limit, so blobs can still be opened. */
export function connectionLimit(limit = openFileLimit()): number {
  if (limit === undefined || !Number.isFinite(limit)) return CONNECTIONS_CEILING;
  return Math.max(16, Math.min(CONNECTIONS_CEILING, limit - FD_RESERVE));
}

/**
 * Idle connections are closed sooner than Node's defaults (a TLS handshake
 * may take 120 s, request headers 60 s, checked every 30 s), so an
 * idle-connection flood cannot hold sockets and memory for minutes.
 */
export const TIMEOUTS = {
  /** A TLS handshake must finish in this time. */
  handshakeMs: 10_000,
  /** The request headers must arrive in this time. */
  headersMs: 10_000,
  /** The whole request (GET, HEAD: headers only) in this time. */
  requestMs: 15_000,
  /** A kept-alive connection with no request is closed after this. */
  keepAliveMs: 5_000,
  /** How often the headers and request deadlines are enforced. */
  checkMs: 1_000,
  /** A TLS connection that sends no request this long after its handshake is closed. */
  firstRequestMs: 10_000,
} as const;
