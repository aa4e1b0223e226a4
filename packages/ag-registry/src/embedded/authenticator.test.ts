import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { Authenticator } from './authenticator.js';
import { connectionLimit } from './limits.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the embedded registry authenticator', () => {
  const users = new Map([['ag', bcrypt.hashSync('right', 4)]]);

  it('runs bcrypt once per credential, remembering the verdict under an HMAC (never the secret)', async () => {
    const auth = new Authenticator(users);
    for (let i = 0; i < 5; i++) expect(await auth.check(basic('ag', 'right'), '10.0.0.1')).toBe(true);
    expect(auth.checks).toBe(1);
    expect(await auth.check(basic('ag', 'wrong'), '10.0.0.2')).toBe(false);
    expect(await auth.check(basic('ag', 'wrong'), '10.0.0.2')).toBe(false);
    expect(auth.checks).toBe(2);
    const remembered = [...(auth as unknown as { verdicts: Map<string, unknown> }).verdicts.keys()];
    for (const key of remembered) {
      expect(key).not.toContain('right');
      expect(key).not.toBe(Buffer.from('ag:right').toString('base64'));
    }
  });

  it('slows an address down after 5 failures, 100 ms doubling to 2 s; a success or another address is not slowed', async () => {
    let now = 0;
    const auth = new Authenticator(users, () => now);
    for (let i = 0; i < 5; i++) await auth.check(basic('ag', `guess-${i}`), '10.0.0.3');
    expect(auth.penalty('10.0.0.3')).toBe(100);
    expect(auth.penalty('10.0.0.4')).toBe(0);
    (auth as unknown as { failures: Map<string, { count: number; last: number }> }).failures.set('10.0.0.3', { count: 12, last: 0 });
    expect(auth.penalty('10.0.0.3')).toBe(2_000);
    now = 61_000; // the failures are forgotten after a quiet minute
    expect(auth.penalty('10.0.0.3')).toBe(0);
  });
});

describe('the connection cap', () => {
  it('stays below the open-file limit, and under a ceiling', () => {
    expect(connectionLimit(1_024)).toBe(768);
    expect(connectionLimit(20_000)).toBe(4_096);
    expect(connectionLimit(100)).toBe(16);
    expect(connectionLimit(undefined)).toBe(4_096);
  });
});
