import { AgError, causeChain, UnreachableError } from '../errors.js';

/**
 * Waiting out a server that refuses connections for a while: a registry or
 * file server that restarts (a supervised registry is back in about 2 s)
 * refuses connections until it listens again. Such refusals are retried with
 * a short back-off until `windowMs` has passed since the first one, and do
 * not use up the retries meant for broken transfers and 5xx.
 *
 * A refusal that lasts the whole window fails naming what was waited for; an
 * offline address still fails, after the window instead of at once.
 *
 * The shared retry policy's window is 0 (lookups such as ag-fetch plan fail
 * fast); the transfers that meet restarting servers (ag-images push and
 * pull, ag-fetch download) set it from --retry-window, default this.
 */
export const DEFAULT_REFUSED_WINDOW_MS = 30_000;
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 2_000;

/** Whether nothing listened: the connection was refused (ECONNREFUSED, here or in a wrapped cause). */
export function isRefusedConnection(error: unknown): boolean {
  if (error instanceof AgError && error.details?.['retryable'] === false) return false;
  return causeChain(error, 5).some((e) => e['code'] === 'ECONNREFUSED');
}

export type RefusalDecision = { retry: true; delayMs: number; error: AgError } | { retry: false; error: AgError };

/** One operation's refusals: when the first came, how many followed. */
export class RefusalWindow {
  private since: number | undefined;
  private count = 0;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * For a refused connection: wait and retry, or give up (the window has
   * passed). undefined for any other failure, which also ends the streak.
   */
  decide(error: unknown): RefusalDecision | undefined {
    // No window: a refusal is an ordinary failure (not retried), as for lookups that should fail fast.
    if (this.windowMs <= 0 || !isRefusedConnection(error)) {
      this.since = undefined;
      this.count = 0;
      return undefined;
    }
    const now = this.now();
    this.since ??= now;
    this.count += 1;
    const waited = now - this.since;
    const message = error instanceof Error ? error.message : String(error);
    if (waited >= this.windowMs) {
      return {
        retry: false,
        error: new UnreachableError(
          `${message}; the connection was refused ${this.count} time(s) over ${Math.round(waited / 1000)} s (ag waits up to ${Math.round(this.windowMs / 1000)} s for a server to accept connections)`,
          {
            cause: error,
            details: { retryable: false, refusedForMs: waited },
            hint: 'start the server, or check its address and port (ag-registry status, for the registry ag-registry runs); to wait longer for a server that restarts, pass --retry-window DURATION',
          },
        ),
      };
    }
    const delayMs = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.count - 1), this.windowMs - waited);
    const reason = error instanceof AgError ? error : new UnreachableError(message, { cause: error });
    return { retry: true, delayMs, error: reason };
  }
}
