import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tunnelThrough } from './proxy-tunnel.js';

// A proxy that answers CONNECT the way it is told (a real one's answers, byte
// for byte), and records what it was asked: refusals and credentials a real
// proxy (the fixture's forward proxy, the e2e test) does not give on demand.

let server: Server | undefined;

async function proxyAnswering(answer: string, asked: string[]): Promise<string> {
  server = createServer((socket: Socket) => {
    socket.once('data', (chunk: Buffer) => {
      asked.push(chunk.toString('latin1'));
      socket.write(answer);
      if (!answer.startsWith('HTTP/1.1 200')) socket.end();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('tunnelThrough: a connection through a proxy CONNECT tunnel', () => {
  it("asks for host:port (an IPv6 address in brackets) with the proxy URL's credentials, and hands over the open socket", async () => {
    const asked: string[] = [];
    const proxy = await proxyAnswering('HTTP/1.1 200 Connection established\r\n\r\n', asked);
    const socket = await tunnelThrough(`http://us%40site:p%3Ass@${proxy}`, '::1', 5000, 5_000);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
    expect(asked[0]).toMatch(/^CONNECT \[::1\]:5000 HTTP\/1\.1\r\nHost: \[::1\]:5000\r\n/);
    const credentials = /Proxy-Authorization: Basic (\S+)/.exec(asked[0]!)?.[1];
    expect(Buffer.from(credentials!, 'base64').toString()).toBe('us@site:p:ss');
  });

  it('rejects with the status line of a refusal, and the proxy named without its password', async () => {
    const asked: string[] = [];
    const proxy = await proxyAnswering('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="site"\r\n\r\n', asked);
    await expect(tunnelThrough(`http://user:secret@${proxy}`, 'registry.example.test', 443, 5_000)).rejects.toThrow(
      `the proxy http://***:***@${proxy}/: answered CONNECT registry.example.test:443 with "HTTP/1.1 407 Proxy Authentication Required"`,
    );
    expect(asked[0]).toMatch(/^CONNECT registry\.example\.test:443 /);
  });

  it('rejects a proxy that sends bytes of the tunnel before the client has spoken', async () => {
    const proxy = await proxyAnswering('HTTP/1.1 200 Connection established\r\n\r\nunasked', []);
    await expect(tunnelThrough(`http://${proxy}`, 'registry.example.test', 443, 5_000)).rejects.toThrow('sent 7 bytes after its answer to CONNECT registry.example.test:443');
  });

  it('rejects when nothing listens at the proxy address', async () => {
    await expect(tunnelThrough('http://127.0.0.1:9', 'registry.example.test', 443, 5_000)).rejects.toThrow(/^the proxy http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED 127\.0\.0\.1:9$/);
  });
});
