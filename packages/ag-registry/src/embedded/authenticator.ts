import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PasswordWorker } from './password-worker.js';

/** A verified credential is remembered this long: bcrypt runs once per client, not once per request. */
const ACCEPTED_MS = 5 * 60_000;
/** A refused one this long: a client repeating the same wrong password costs no bcrypt. */
const REFUSED_MS = 30_000;
const REMEMBERED_MAX = 4096;
/** Failures an address may have (within FAILURE_WINDOW_MS) before its next attempts wait. */
const FREE_FAILURES = 5;
const FAILURE_WINDOW_MS = 60_000;
const FIRST_PENALTY_MS = 100;
const MAX_PENALTY_MS = 2_000;
/** Addresses tracked at once; beyond it the oldest are forgotten (a flood of addresses cannot grow memory). */
const ADDRESSES_MAX = 10_000;

interface Failures {
  count: number;
  last: number;
}

/**
 * HTTP Basic authentication against the htpasswd users, made cheap under a
 * wrong-password flood:
 * - a verdict is remembered, keyed by an HMAC of the presented header under a
 *   key made at start (never the secret, nor a plain hash an attacker could
 *   precompute), so a known client skips bcrypt;
 * - bcrypt checks run one at a time on a worker thread (PasswordWorker), so a
 *   flood queues behind itself there and the event loop keeps serving
 *   clients already verified;
 * - an address past FREE_FAILURES recent failures waits, before its next
 *   unknown credential is checked, 100 ms doubling to 2 s: a flood from one
 *   address is slowed to a few checks a second; known clients never wait.
 */
export class Authenticator {
  private readonly key = randomBytes(32);
  private readonly verdicts = new Map<string, { ok: boolean; until: number }>();
  private readonly failures = new Map<string, Failures>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly passwords = new PasswordWorker();
  /** bcrypt checks run so far (for tests and the bench). */
  checks = 0;

  constructor(
    private readonly users: Map<string, string>,
    private readonly now: () => number = Date.now,
  ) {}

  async check(header: string | undefined, address = ''): Promise<boolean> {
    if (header === undefined || !header.startsWith('Basic ')) return false;
    const key = createHmac('sha256', this.key).update(header).digest('base64url');
    const known = this.verdicts.get(key);
    if (known !== undefined && known.until > this.now()) {
      if (!known.ok) await this.fail(address);
      return known.ok;
    }
    const penalty = this.penalty(address);
    if (penalty > 0) await sleep(penalty);
    const ok = await this.verify(header);
    this.remember(key, ok);
    if (ok) this.failures.delete(address);
    else await this.fail(address, false);
    return ok;
  }

  /** How long an address waits before its next unknown credential is checked. */
  penalty(address: string): number {
    const seen = this.failures.get(address);
    if (seen === undefined || this.now() - seen.last > FAILURE_WINDOW_MS || seen.count < FREE_FAILURES) return 0;
    return Math.min(MAX_PENALTY_MS, FIRST_PENALTY_MS * 2 ** (seen.count - FREE_FAILURES));
  }

  private async fail(address: string, wait = true): Promise<void> {
    const now = this.now();
    const seen = this.failures.get(address);
    const count = seen !== undefined && now - seen.last <= FAILURE_WINDOW_MS ? seen.count + 1 : 1;
    this.failures.delete(address);
    if (this.failures.size >= ADDRESSES_MAX) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(address, { count, last: now });
    // A remembered wrong password is answered as slowly as a checked one: no faster path for guessing.
    if (wait) {
      const penalty = this.penalty(address);
      if (penalty > 0) await sleep(penalty);
    }
  }

  private remember(key: string, ok: boolean): void {
    if (this.verdicts.size >= REMEMBERED_MAX) {
      const now = this.now();
      for (const [k, v] of this.verdicts) if (v.until <= now) this.verdicts.delete(k);
      if (this.verdicts.size >= REMEMBERED_MAX) this.verdicts.clear();
    }
    this.verdicts.set(key, { ok, until: this.now() + (ok ? ACCEPTED_MS : REFUSED_MS) });
  }

  private verify(header: string): Promise<boolean> {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return Promise.resolve(false);
    const run = this.queue.then(() => {
      this.checks += 1;
      const hash = this.users.get(decoded.slice(0, colon));
      return hash === undefined ? false : this.passwords.compare(decoded.slice(colon + 1), hash);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops the password check thread. */
  close(): Promise<void> {
    return this.passwords.close();
  }
}
