import { isIP } from 'node:net';
import { UsageError } from '@ag/core';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (host then empty). */
export function parseHostPort(text: string, what: string): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`${what} ${JSON.stringify(text)} is not HOST:PORT (e.g. 0.0.0.0:5000, registry.example:5000, [::]:5000)`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

/** `host:port`, bracketing IPv6 addresses. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** Whether a listen host means every address (so clients need a name, not this address). */
export function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** Where to connect to reach a server listening on `listen` from this host. */
export function localConnectHost(listen: HostPort): string {
  return isWildcard(listen.host) ? '127.0.0.1' : listen.host;
}
