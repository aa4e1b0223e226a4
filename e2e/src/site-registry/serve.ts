/**
 * The site's own registry for `npm run demo -- --registry HOST[:PORT]/PREFIX`,
 * run inside the far namespace (`ip netns exec <far> node --import tsx
 * serve.ts --dir DIR --ready FILE --name HOST --port PORT`): Debian's
 * distribution registry with TLS (a certificate for HOST from a CA of its
 * own) and htpasswd, holding one account, as a Harbor robot account would
 * be. When ready it writes FILE (a SiteRegistryInfo, JSON) and runs until
 * SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '@ag/core';
import { startRegistry } from '@ag/fixtures';
import type { SiteRegistryInfo } from './info.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, ready: { type: 'string' }, name: { type: 'string' }, port: { type: 'string' } } });
  if (values.dir === undefined || values.ready === undefined || values.name === undefined || values.port === undefined) {
    throw new Error('usage: serve.ts --dir DIR --ready FILE --name HOST --port PORT');
  }
  const password = randomBytes(18).toString('base64url');
  const registry = await startRegistry({ auth: 'htpasswd', users: { 'robot-ag': password }, port: Number(values.port), names: [values.name], dir: join(values.dir, 'registry') });
  const caFile = join(values.dir, 'ca.crt');
  const credentialsFile = join(values.dir, 'credentials');
  await copyFile(registry.caFile, caFile);
  await writeFile(credentialsFile, `robot-ag:${password}\n`, { mode: 0o600 });
  const stop = async (): Promise<void> => {
    await registry.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
  const info: SiteRegistryInfo = { listen: registry.host, caFile, credentialsFile };
  await writeFileAtomic(values.ready, JSON.stringify(info));
}

main().catch((error: unknown) => {
  process.stderr.write(`site registry: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
