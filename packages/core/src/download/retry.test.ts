import { describe, expect, it } from 'vitest';
import { MissingError, UnreachableError } from '../errors.js';
import { isRefusedConnection, RefusalWindow } from './refusals.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, isRetryableError, parseRetryAfter, retryDecision, withRetry } from './retry.js';

describe('parseRetryAfter', () => {
  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('retry decisions', () => {
  const socketReset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
  it('retries broken connections and retryable statuses, not refusals or 404', () => {
    expect(isRetryableError(socketReset)).toBe(true);
    expect(isRetryableError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryableError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isRetryableError(new UnreachableError('503', { details: { retryable: true } }))).toBe(true);
    expect(isRetryableError(new MissingError('404', { details: { retryable: false } }))).toBe(false);
    expect(isRetryableError(new UnreachableError('wrapped', { cause: socketReset }))).toBe(true);
  });

  it('backs off exponentially within the cap', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, policy, () => 1)).toBe(100);
    expect(backoffDelay(3, policy, () => 1)).toBe(400);
    expect(backoffDelay(10, policy, () => 1)).toBe(1000);
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
  });

  it('waits what Retry-After asks, and refuses a wait beyond the policy', () => {
    const asks = (ms: number) => new UnreachableError('429', { details: { retryable: true, retryAfterMs: ms } });
    expect(retryDecision(asks(2000), 1, DEFAULT_RETRY_POLICY)).toEqual({ retry: true, delayMs: 2000 });
    const refused = retryDecision(asks(3_600_000), 1, DEFAULT_RETRY_POLICY);
    expect(refused.retry).toBe(false);
    expect(!refused.retry && refused.error?.message).toContain('asks to wait 3600 s');
    expect(retryDecision(asks(10), DEFAULT_RETRY_POLICY.retries + 1, DEFAULT_RETRY_POLICY)).toEqual({ retry: false });
  });
});

describe('withRetry', () => {
  it('retries until success and reports each retry', async () => {
    const seen: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        if (attempt < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return attempt;
      },
      { policy: { baseDelayMs: 1, maxDelayMs: 2 }, onRetry: (e) => seen.push(e.attempt) },
    );
    expect(result).toBe(3);
    expect(seen).toEqual([1, 2]);
  });

  it('throws the last error once retries are used up, and at once for a final one', async () => {
    let calls = 0;
    const failing = () =>
      withRetry(
        async () => {
          calls += 1;
          throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        },
        { policy: { retries: 2, baseDelayMs: 1, maxDelayMs: 1 } },
      );
    await expect(failing()).rejects.toThrow('reset');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      withRetry(async () => {
        calls += 1;
        throw new MissingError('404', { details: { retryable: false } });
      }),
    ).rejects.toThrow('404');
    expect(calls).toBe(1);
  });
});

describe('refused connections (a server restarting)', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5000'), { code: 'ECONNREFUSED' });

  it('waits them out within the window, apart from the retries, with a short growing delay', () => {
    let now = 0;
    const window = new RefusalWindow(30_000, () => now);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const decision = window.decide(new UnreachableError('pushing: refused', { cause: refused() }));
      expect(decision?.retry).toBe(true);
      delays.push((decision as { delayMs: number }).delayMs);
      now += 1_000;
    }
    expect(delays).toEqual([250, 500, 1_000, 2_000, 2_000, 2_000]);
    now = 30_000;
    const last = window.decide(refused());
    expect(last).toMatchObject({ retry: false });
    expect(last?.error.message).toBe('connect ECONNREFUSED 127.0.0.1:5000; the connection was refused 7 time(s) over 30 s (ag waits up to 30 s for a server to accept connections)');
    expect(last?.error.exitCode).toBe(4);
  });

  it('does not count other failures, which end the streak', () => {
    let now = 0;
    const window = new RefusalWindow(1_000, () => now);
    expect(window.decide(refused())?.retry).toBe(true);
    now = 900;
    expect(window.decide(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBeUndefined();
    now = 1_500;
    expect(window.decide(refused())?.retry).toBe(true);
    expect(isRefusedConnection(new UnreachableError('TLS', { cause: refused(), details: { retryable: false } }))).toBe(false);
  });

  it('withRetry keeps trying a refused operation until it is accepted, without using up retries', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 4) throw refused();
        if (calls === 4) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return 'done';
      },
      { policy: { retries: 1, baseDelayMs: 1, refusedWindowMs: 5_000 } },
    );
    expect(result).toBe('done');
    expect(calls).toBe(5);
  });
});
