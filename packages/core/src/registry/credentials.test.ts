import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseChallenges } from './challenge.js';
import { credentialsFromHelper, findCredentials } from './credentials.js';

let dir: string;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-creds-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseChallenges', () => {
  it('reads Bearer and Basic challenges, quoted commas and escapes included', () => {
    expect(
      parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/a:pull,push"'),
    ).toEqual([{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/a:pull,push' } }]);
    expect(parseChallenges(['Basic realm="say \\"hi\\""', 'Bearer realm=https://x/token'])).toEqual([
      { scheme: 'basic', params: { realm: 'say "hi"' } },
      { scheme: 'bearer', params: { realm: 'https://x/token' } },
    ]);
  });
});

describe('findCredentials', () => {
  it('reads REGISTRY_AUTH_FILE first, with namespace-scoped entries, then the Docker config', async () => {
    const authFile = join(dir, 'auth.json');
    await writeFile(
      authFile,
      JSON.stringify({ auths: { 'reg.example:5000': { auth: b64('host-user:p1') }, 'reg.example:5000/team': { auth: b64('team-user:p2') } } }),
    );
    await mkdir(join(dir, 'docker'));
    await writeFile(join(dir, 'docker', 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub-user:p3') } } }));
    const env = { REGISTRY_AUTH_FILE: authFile, DOCKER_CONFIG: join(dir, 'docker') };
    expect(await findCredentials('reg.example:5000', 'other/app', env)).toMatchObject({ username: 'host-user', password: 'p1' });
    expect(await findCredentials('reg.example:5000', 'team/app', env)).toMatchObject({ username: 'team-user', password: 'p2' });
    expect(await findCredentials('docker.io', 'library/nginx', env)).toMatchObject({ username: 'hub-user', password: 'p3' });
    expect(await findCredentials('ghcr.io', 'x/y', env)).toBeUndefined();
    // A prefix asks for the entry of that namespace itself (a robot account of one Harbor project).
    expect(await findCredentials('reg.example:5000', 'team', env)).toMatchObject({ username: 'team-user', password: 'p2' });
    expect(await findCredentials('reg.example:5000', 'teams', env)).toMatchObject({ username: 'host-user', password: 'p1' });
  });

  it('asks a credential helper named in the Docker config', async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const helper = join(bin, 'docker-credential-ag-test');
    // Prints credentials only for the host it is asked about on stdin.
    await writeFile(helper, '#!/bin/sh\nread host\n[ "$1" = get ] && [ "$host" = "ghcr.io" ] && echo \'{"Username":"helper-user","Secret":"s3cret"}\' && exit 0\necho "credentials not found in native keychain"; exit 1\n');
    await chmod(helper, 0o755);
    await mkdir(join(dir, 'docker'));
    await writeFile(join(dir, 'docker', 'config.json'), JSON.stringify({ credHelpers: { 'ghcr.io': 'ag-test', 'quay.io': 'ag-test' } }));
    const env = { DOCKER_CONFIG: join(dir, 'docker'), PATH: `${bin}:${process.env['PATH']}`, HOME: dir };
    expect(await findCredentials('ghcr.io', 'a/b', env)).toEqual({ username: 'helper-user', password: 's3cret', source: 'docker-credential-ag-test' });
    expect(await findCredentials('quay.io', 'a/b', env)).toBeUndefined();
  });

  it('names a helper that fails, with what it said, and one that is not installed (exit 5)', async () => {
    const bin = join(dir, 'bin-failing');
    await mkdir(bin);
    await writeFile(join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "the keyring is locked" >&2; exit 2\n');
    await chmod(join(bin, 'docker-credential-broken'), 0o755);
    const env = { PATH: bin };
    await expect(credentialsFromHelper('broken', 'ghcr.io', env)).rejects.toMatchObject({ kind: 'system', message: 'docker-credential-broken get failed (2): the keyring is locked' });
    await expect(credentialsFromHelper('absent', 'ghcr.io', env)).rejects.toMatchObject({
      kind: 'missing',
      hint: 'install docker-credential-absent or remove "absent" from the Docker config',
    });
  });
});
