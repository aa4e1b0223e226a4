import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { messageWithCode, redactUrl } from '@ag/core';

/** `host` as the authority of a CONNECT request: an IPv6 address in brackets. */
function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * A connection to `host:port` through the tunnel an HTTP proxy opens for
 * `CONNECT host:port` (RFC 9110 §9.3.6), as undici's ProxyAgent asks for
 * one: the proxy reached over TLS for an `https://` proxy URL, its URL's
 * user and password sent as `Proxy-Authorization: Basic`. Resolves with
 * the socket, ready for a TLS handshake with `host`, once the proxy
 * answers 2xx; rejects with what the proxy answered, or why it could not
 * be reached, within `timeoutMs`. (undici's ProxyAgent does the same, then
 * `tls.connect({ socket })`, which reads from the socket's handle: nothing
 * may arrive before the handshake.)
 */
export function tunnelThrough(proxyUrl: string, host: string, port: number, timeoutMs: number): Promise<Socket> {
  const proxy = new URL(proxyUrl);
  const proxyPort = Number.parseInt(proxy.port, 10) || (proxy.protocol === 'https:' ? 443 : 80);
  const proxyHost = proxy.hostname.replace(/^\[|\]$/g, '');
  const target = authority(host, port);
  const headers = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
  if (proxy.username !== '' || proxy.password !== '') {
    const userinfo = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers.push(`Proxy-Authorization: Basic ${Buffer.from(userinfo).toString('base64')}`);
  }
  const request = `${headers.join('\r\n')}\r\n\r\n`;
  const where = `the proxy ${redactUrl(proxyUrl)}`;

  return new Promise((resolve, reject) => {
    const socket =
      proxy.protocol === 'https:' ? connectTls({ host: proxyHost, port: proxyPort, servername: proxyHost }) : connectTcp({ host: proxyHost, port: proxyPort });
    let answer = Buffer.alloc(0);
    const fail = (message: string): void => {
      socket.destroy();
      reject(new Error(`${where}: ${message}`));
    };
    const onData = (chunk: Buffer): void => {
      answer = Buffer.concat([answer, chunk]);
      const end = answer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (answer.length > 16 * 1024) fail(`no end to its answer to CONNECT ${target} in 16 KiB`);
        return;
      }
      const statusLine = answer.subarray(0, answer.indexOf('\r\n')).toString('latin1');
      socket.off('data', onData);
      socket.off('error', onError);
      socket.setTimeout(0);
      if (!/^HTTP\/1\.[01] 2\d\d\b/.test(statusLine)) {
        fail(`answered CONNECT ${target} with "${statusLine}"`);
        return;
      }
      // The client speaks first in TLS: a proxy that sends bytes of the tunnel before it is no tunnel to trust.
      const early = answer.length - (end + 4);
      if (early > 0) {
        fail(`sent ${early} bytes after its answer to CONNECT ${target}, before the TLS handshake began`);
        return;
      }
      resolve(socket);
    };
    const onError = (error: Error): void => fail(messageWithCode(error));
    socket.setTimeout(timeoutMs, () => fail(`no answer to CONNECT ${target} within ${timeoutMs} ms`));
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once(proxy.protocol === 'https:' ? 'secureConnect' : 'connect', () => socket.write(request));
  });
}
