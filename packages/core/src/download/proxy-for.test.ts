import { createServer, type AddressInfo, type Server } from 'node:net';
import { EnvHttpProxyAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyFor, type ProxySettings } from './dispatcher.js';

// proxyFor decides, for the few connections ag opens without undici, what
// undici's EnvHttpProxyAgent decides for the rest. Held to undici itself: each
// case is also sent through an EnvHttpProxyAgent whose proxy is a listener
// that records the CONNECT it gets and refuses it; a request that never
// reaches the listener went direct (its host lookup fails at once, by a
// lookup of our own, so nothing leaves the machine).

let listener: Server;
let proxyUrl: string;
const connects: string[] = [];

beforeAll(async () => {
  listener = createServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      connects.push(chunk.toString('latin1').split('\r\n')[0]!);
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

/** Whether undici's EnvHttpProxyAgent sent a request to `url` through the proxy. */
async function undiciProxies(url: string, settings: ProxySettings): Promise<boolean> {
  const before = connects.length;
  const agent = new EnvHttpProxyAgent({
    httpProxy: settings.httpProxy ?? '',
    httpsProxy: settings.httpsProxy ?? '',
    noProxy: settings.noProxy ?? '',
    connect: {
      timeout: 2_000,
      lookup: (_host: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void) =>
        callback(Object.assign(new Error('not looked up in this test'), { code: 'ENOTFOUND' }), '', 4),
    },
  });
  try {
    const target = new URL(url);
    await agent.request({ origin: target.origin, path: '/', method: 'GET' }).catch(() => undefined);
  } finally {
    await agent.destroy();
  }
  return connects.length > before;
}

describe('proxyFor: the proxy a connection goes through, as undici decides it', () => {
  const cases: Array<{ url: string; settings: (proxy: string) => ProxySettings }> = [
    { url: 'https://registry.example.test/', settings: () => ({}) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpsProxy: p }) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpProxy: p }) },
    { url: 'http://registry.example.test/', settings: (p) => ({ httpsProxy: p }) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: '*' }) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: 'registry.example.test' }) },
    { url: 'https://sub.registry.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: 'registry.example.test' }) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: '.example.test' }) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: '*.example.test' }) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: 'REGISTRY.Example.test' }) },
    { url: 'https://registry.example.test:5000/', settings: (p) => ({ httpsProxy: p, noProxy: 'registry.example.test:5000' }) },
    { url: 'https://registry.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: 'registry.example.test:5000' }) },
    { url: 'https://registry.example.test:443/', settings: (p) => ({ httpsProxy: p, noProxy: 'registry.example.test:443' }) },
    { url: 'https://b.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: 'a.example.test, b.example.test' }) },
    { url: 'https://c.example.test/', settings: (p) => ({ httpsProxy: p, noProxy: 'a.example.test b.example.test' }) },
    { url: 'https://127.0.0.1:9/', settings: (p) => ({ httpsProxy: p, noProxy: '127.0.0.1' }) },
    { url: 'https://127.0.0.2:9/', settings: (p) => ({ httpsProxy: p, noProxy: '127.0.0.1' }) },
    { url: 'https://[::1]:9/', settings: (p) => ({ httpsProxy: p, noProxy: '[::1]' }) },
    { url: 'https://example.test/', settings: (p) => ({ httpsProxy: p, noProxy: '.example.test' }) },
  ];

  it.each(cases.map((c) => [c.url, c] as const))('%s: the same answer as EnvHttpProxyAgent', async (_url, { url, settings }) => {
    const given = settings(proxyUrl);
    const expected = await undiciProxies(url, given);
    expect(proxyFor(new URL(url), given), JSON.stringify(given)).toBe(expected ? proxyUrl : undefined);
  });

  it('answers both ways across the cases (the listener sees some requests, not all)', () => {
    expect(connects.length).toBeGreaterThan(3);
    expect(connects.length).toBeLessThan(cases.length - 3);
    expect(connects.every((line) => line.startsWith('CONNECT '))).toBe(true);
  });
});
