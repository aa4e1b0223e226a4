import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureCertificates } from '../certs.js';
import { ensureCredentials, parseHtpasswd } from '../credentials.js';
import { startEmbeddedServer, type EmbeddedServer } from '../embedded/server.js';
import { registryPaths, type RegistryPaths } from '../paths.js';

/**
 * Tests only: the embedded registry serving `layoutDir` on a free port of
 * 127.0.0.1, with a registry directory under `dir` holding its certificates
 * and credentials (as ag-registry up writes them), reloading on every request.
 */
export async function startTestEmbeddedServer(dir: string, layoutDir: string): Promise<{ server: EmbeddedServer; paths: RegistryPaths; creds: string }> {
  const registryDir = join(dir, 'registry');
  await ensureCertificates({ dir: registryDir, names: { dns: ['localhost'], ips: ['127.0.0.1'] } });
  await ensureCredentials(registryDir);
  const paths = registryPaths(registryDir);
  const creds = (await readFile(paths.credentials, 'utf8')).trim();
  const server = await startEmbeddedServer({
    layout: layoutDir,
    listen: { host: '127.0.0.1', port: 0 },
    cert: await readFile(paths.serverCert, 'utf8'),
    key: await readFile(paths.serverKey, 'utf8'),
    users: parseHtpasswd(await readFile(paths.htpasswd, 'utf8')),
    reloadIntervalMs: 0,
  });
  return { server, paths, creds };
}
