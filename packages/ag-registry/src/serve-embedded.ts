import { readFile } from 'node:fs/promises';
import { MissingError, withContext, type Logger } from '@ag/core';
import { parseHtpasswd } from './credentials.js';
import { parseHostPort } from './endpoint.js';
import { startEmbeddedServer, type EmbeddedServer } from './embedded/server.js';
import { registryPaths } from './paths.js';

export interface ServeEmbeddedOptions {
  dir: string;
  layout: string;
  listen: string;
  log: Logger;
  /** Resolves when the server should stop (default: SIGTERM or SIGINT). */
  until?: Promise<unknown>;
}

function signalled(): Promise<string> {
  return new Promise((resolveSignal) => {
    process.once('SIGTERM', () => resolveSignal('SIGTERM'));
    process.once('SIGINT', () => resolveSignal('SIGINT'));
  });
}

/**
 * Runs the embedded registry in the foreground (the hidden `serve-embedded`
 * command that `up --mode embedded` supervises): the certificates and
 * htpasswd of DIR, the layout as it is. Returns once stopped.
 */
export async function serveEmbedded(options: ServeEmbeddedOptions): Promise<EmbeddedServer> {
  const paths = registryPaths(options.dir);
  const read = async (path: string) => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw withContext(`reading ${path}`, error);
    }
  };
  const [cert, key, htpasswd] = await Promise.all([read(paths.serverCert), read(paths.serverKey), read(paths.htpasswd)]);
  const users = parseHtpasswd(htpasswd);
  if (users.size === 0) throw new MissingError(`${paths.htpasswd} holds no bcrypt user`, { hint: 'run ag-registry up to generate credentials' });
  const server = await startEmbeddedServer({
    layout: options.layout,
    listen: parseHostPort(options.listen, '--listen'),
    cert,
    key,
    users,
    log: options.log,
    accessLogFile: paths.accessLog,
  });
  options.log.info(`embedded registry listening on ${server.address.host}:${server.address.port}, serving ${options.layout} read-only`);
  const why = await (options.until ?? signalled());
  options.log.info(`${String(why)}: stopping`);
  await server.close();
  return server;
}
