import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { proxySettingsFromEnv } from './dispatcher.js';
import { createLimiter, settleWithLimit } from './limit.js';

describe('concurrency limit', () => {
  it('never runs more than N at once, and keeps order of results', async () => {
    let active = 0;
    let peak = 0;
    const results = await settleWithLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      active += 1;
      peak = Math.max(peak, active);
      await sleep(5);
      active -= 1;
      if (n === 4) throw new Error('four');
      return n * 10;
    });
    expect(peak).toBe(2);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).toEqual([10, 20, 30, 'failed', 50, 60]);
  });

  it('releases its slot when a task throws', async () => {
    const limit = createLimiter(1);
    await expect(limit(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await limit(async () => 'next')).toBe('next');
    expect(() => createLimiter(0)).toThrow(RangeError);
  });
});

describe('proxy settings', () => {
  it('reads either case, lowercase first, ignoring empty values', () => {
    expect(proxySettingsFromEnv({ HTTPS_PROXY: 'http://p:1', https_proxy: 'http://q:2', NO_PROXY: 'a,b', HTTP_PROXY: ' ' })).toEqual({
      httpsProxy: 'http://q:2',
      noProxy: 'a,b',
    });
  });
});
