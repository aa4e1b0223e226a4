import { describe, expect, it } from 'vitest';
import { parseMirrorFlag } from './mirror.js';

describe('--mirror, one syntax for files and images', () => {
  it('reads UPSTREAM=TARGET for one upstream and a bare TARGET for every upstream', () => {
    expect(parseMirrorFlag('registry.k8s.io=mirror.example:5000/k8s')).toEqual({ upstream: 'registry.k8s.io', scheme: undefined, host: 'mirror.example:5000', path: 'k8s' });
    expect(parseMirrorFlag('dl.k8s.io=https://m.internal/k8s/')).toEqual({ upstream: 'dl.k8s.io', scheme: 'https', host: 'm.internal', path: 'k8s' });
    expect(parseMirrorFlag('http://10.0.0.5:8080')).toEqual({ upstream: '*', scheme: 'http', host: '10.0.0.5:8080', path: undefined });
    expect(parseMirrorFlag('10.0.0.5:5000')).toEqual({ upstream: '*', scheme: undefined, host: '10.0.0.5:5000', path: undefined });
    expect(parseMirrorFlag('registry.corp:5000=[::1]:5000')).toMatchObject({ upstream: 'registry.corp:5000', host: '[::1]:5000' });
  });

  it('takes a = after a slash as part of the target, not an upstream', () => {
    expect(parseMirrorFlag('https://m.internal/get?a=b')).toMatchObject({ upstream: '*', host: 'm.internal', path: 'get?a=b' });
  });

  it('refuses what is not a mirror, saying the syntax', () => {
    expect(() => parseMirrorFlag('ftp://x')).toThrow('only http and https mirrors are supported');
    expect(() => parseMirrorFlag('=m.internal')).toThrow('the upstream before = is empty');
    expect(() => parseMirrorFlag('dl.k8s.io=')).toThrow('no mirror host');
    expect(() => parseMirrorFlag('a b')).toThrow('contains a space');
    try {
      parseMirrorFlag('dl.k8s.io=https://');
    } catch (error) {
      expect((error as { hint: string }).hint).toContain('UPSTREAM=TARGET for one upstream host, or TARGET alone');
      expect((error as { exitCode: number }).exitCode).toBe(2);
    }
  });
});
