import { setTimeout as sleepTimer } from 'node:timers/promises';
import { AgError, systemCodeOf, UnreachableError } from '../errors.js';
import { RefusalWindow } from './refusals.js';

/**
 * When and how long to retry a network operation. Shared by the file
 * downloader and the registry client, so both back off the same way.
 */
export interface RetryPolicy {
  /** Further attempts after the first (0 = try once). Default 4. */
  retries: number;
  /** The first back-off delay; it doubles per attempt, with jitter. Default 500 ms. */
  baseDelayMs: number;
  /** The longest back-off delay. Default 30 s. */
  maxDelayMs: number;
  /** The longest `Retry-After` ag waits for; a server asking for more fails the operation. Default 120 s. */
  maxRetryAfterMs: number;
  /** How long refused connections are retried (a server restarting), apart from `retries`. Default 0: not retried (refusals.ts). */
  refusedWindowMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  refusedWindowMs: 0,
};

/** What a retry loop tells its caller before it waits. */
export interface RetryEvent {
  /** The attempt that failed, from 1. */
  attempt: number;
  delayMs: number;
  error: AgError;
}

/**
 * Network error codes worth another attempt: the connection broke or timed
 * out, or DNS failed for a moment. A refused connection or an unknown host is
 * not retried: it will not heal in seconds, and an offline machine should fail
 * fast with "unreachable". (A refused connection is waited out for a bounded
 * time apart from these: refusals.ts.)
 */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The HTTP statuses worth another attempt: 408, 429 and every 5xx but 501 and 505. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * Whether an error (thrown by undici, Node or ag's HTTP helpers) is worth
 * another attempt. An AgError decides by `details.retryable` when it sets it.
 */
export function isRetryableError(error: unknown): boolean {
  if (error instanceof AgError && typeof error.details?.['retryable'] === 'boolean') return error.details['retryable'];
  const code = systemCodeOf(error, 5);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

/**
 * Parses a `Retry-After` header (delta seconds or an HTTP date) into
 * milliseconds from `now`; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number.parseInt(text, 10) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The exponential back-off delay before attempt `attempt + 1`, with up to 50% jitter so clients spread out. */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() / 2));
}

/**
 * Decides whether to retry after `attempt` failed: `{ retry: false }` or the
 * delay to wait. Honours `retryAfterMs` in an AgError's details (429/503),
 * refusing one longer than the policy allows (the error then says so).
 */
export function retryDecision(
  error: unknown,
  attempt: number,
  policy: RetryPolicy,
): { retry: true; delayMs: number } | { retry: false; error?: AgError } {
  if (attempt > policy.retries || !isRetryableError(error)) return { retry: false };
  const retryAfterMs = error instanceof AgError ? (error.details?.['retryAfterMs'] as number | undefined) : undefined;
  if (retryAfterMs !== undefined) {
    if (retryAfterMs > policy.maxRetryAfterMs) {
      const agError = error as AgError;
      return {
        retry: false,
        error: new AgError(agError.kind, `${agError.message} (the server asks to wait ${Math.ceil(retryAfterMs / 1000)} s)`, {
          hint: 'try again later, or use a mirror',
          cause: agError,
          details: agError.details,
        }),
      };
    }
    return { retry: true, delayMs: retryAfterMs };
  }
  return { retry: true, delayMs: backoffDelay(attempt, policy) };
}

/** Waits, or rejects at once when the signal aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  await sleepTimer(ms, undefined, signal ? { signal } : undefined);
}

export interface WithRetryOptions {
  policy?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Called before each wait, e.g. to log "retrying in 2 s: 503 Service Unavailable". */
  onRetry?: (event: RetryEvent) => void;
  /** Turns a thrown value into the AgError reported by onRetry and thrown at the end. */
  describe?: (error: unknown) => AgError;
}

/**
 * Runs `operation` until it succeeds, a failure is not worth retrying, or the
 * policy's retries are used up; waits with exponential back-off (or the
 * server's Retry-After) in between. Throws the last error.
 */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: WithRetryOptions = {}): Promise<T> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const refusals = new RefusalWindow(policy.refusedWindowMs);
  let failures = 0;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (thrown) {
      if (options.signal?.aborted) throw thrown;
      const refused = refusals.decide(thrown);
      if (refused !== undefined) {
        if (!refused.retry) throw refused.error;
        options.onRetry?.({ attempt, delayMs: refused.delayMs, error: refused.error });
        await sleep(refused.delayMs, options.signal);
        continue;
      }
      failures += 1;
      const decision = retryDecision(thrown, failures, policy);
      if (!decision.retry) throw decision.error ?? thrown;
      const error = options.describe ? options.describe(thrown) : toRetryError(thrown);
      options.onRetry?.({ attempt, delayMs: decision.delayMs, error });
      await sleep(decision.delayMs, options.signal);
    }
  }
}

function toRetryError(error: unknown): AgError {
  if (error instanceof AgError) return error;
  return new UnreachableError(error instanceof Error ? error.message : String(error), { cause: error });
}
