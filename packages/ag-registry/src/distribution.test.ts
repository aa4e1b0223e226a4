import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import { parse as parseToml } from 'smol-toml';
import { DOCKER_REGISTRY_BIN, echoImage, freePort, generatedLayout, LINUX_AMD64, LINUX_ARM64, pauseStandIn, startContainerd, type PrivateContainerd } from '@ag/fixtures';
import { ensureCertificates } from './certs.js';
import { main } from './cli.js';
import { agImages, cli, skopeo } from './testing/run.js';
import { registryPaths } from './paths.js';
import { liveChild, recordChild } from './child-record.js';


let dir: string;
let layoutDir: string;
let certDir: string;
let port: number;
let endpoint: string;
let credentials: string;
let upArgs: string[];
let upDocument: string;
let containerd: PrivateContainerd | undefined;
const PORTED = ['registry.corp:5000/team/app:1', 'localhost:5000/x:1'];
const RESTART_IMAGES = Array.from({ length: 6 }, (_, i) => `example.org/restart/app${i}:1`);


/** curl's body, status (000 when no HTTP answer) and error text. */
async function curl(args: string[]): Promise<{ status: string; body: string; error: string }> {
  const result = await execa('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args]).catch(
    (error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
  const lines = result.stdout.trimEnd().split('\n');
  return { status: lines.pop() ?? '', body: lines.join('\n'), error: result.stderr };
}


function alive(processId: number): boolean {
  try {
    process.kill(processId, 0);
    return true;
  } catch {
    return false;
  }
}

async function pid(file: string): Promise<number> {
  return Number((await readFile(file, 'utf8')).trim());
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-dist-'));
  layoutDir = join(dir, 'layout');
  const layout = await generatedLayout(layoutDir);
  await layout.writeImageSpec({ ref: 'registry.k8s.io/pause:3.9', mediaTypes: 'oci', platforms: [pauseStandIn(LINUX_AMD64), pauseStandIn(LINUX_ARM64)] });
  // OCI types only: skopeo 1.9 does not find Docker-typed entries in a layout's index.json (the embedded tests cover those).
  await layout.writeImageSpec({ ref: 'docker.io/library/hello:1', mediaTypes: 'oci', platforms: [echoImage('hello', LINUX_AMD64), echoImage('hello', LINUX_ARM64)] });
  await layout.writeImageSpec({ ref: 'quay.io/team/app:1', mediaTypes: 'oci', platforms: [echoImage('app', LINUX_AMD64), echoImage('app', LINUX_ARM64)] });
  // Upstream registries with a port: a colon can be no part of a repository name in the internal registry.
  for (const ref of PORTED) await layout.writeImageSpec({ ref, mediaTypes: 'oci', platforms: [echoImage(`hello from ${ref}`, LINUX_AMD64), echoImage(ref, LINUX_ARM64)] });
  // Images for the restart-mid-push test: 8 MiB each, so a push takes long enough to be interrupted.
  for (const i of RESTART_IMAGES.keys()) {
    await layout.writeImageSpec({ ref: RESTART_IMAGES[i]!, platforms: [{ platform: LINUX_AMD64, layers: [{ kind: 'random', size: 8 << 20, seed: `restart-${i}` }] }] });
  }
  port = await freePort();
  endpoint = `127.0.0.1:${port}`;
  upArgs = ['up', '--state-dir', join(dir, 'registry'), '--listen', endpoint, '--registry-binary', DOCKER_REGISTRY_BIN, '--init', 'process', '--host', 'localhost', '--ip', '127.0.0.1'];
});

afterAll(async () => {
  await containerd?.stop();
  await main(['down', '--state-dir', join(dir, 'registry')], createTestIo());
  await rm(dir, { recursive: true, force: true });
});

describe('ag-registry up --mode distribution (Debian docker-registry, supervised process)', () => {
  it('starts a TLS registry with generated credentials and describes it in the document, secrets excluded', async () => {
    // A bundle document (its root holds the layout), as ag-bundle unpack would pass on.
    const result = await cli(upArgs, JSON.stringify({ apiVersion: 'ag/v1alpha1', kind: 'Cluster', root: dir }));
    expect(result.code, result.stderr).toBe(0);
    upDocument = result.stdout;
    const registry = JSON.parse(result.stdout).registry;
    const paths = registryPaths(join(dir, 'registry'));
    expect(registry).toMatchObject({
      endpoint,
      mode: 'distribution',
      runner: 'process',
      dir: paths.dir,
      caFile: paths.caCert,
      credentialsFile: paths.credentials,
      username: 'ag',
      stop: `ag-registry down --state-dir ${paths.dir}`,
      log: paths.logFile,
      server: { binary: DOCKER_REGISTRY_BIN },
      certificates: { sans: ['DNS:localhost', 'IP:127.0.0.1'] },
    });
    credentials = (await readFile(paths.credentials, 'utf8')).trim();
    const password = credentials.split(':')[1]!;
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(result.stdout).not.toContain(password);
    expect(result.stderr).not.toContain(password);
    for (const secret of [paths.credentials, paths.htpasswd, paths.config, paths.caKey, paths.serverKey]) {
      expect(((await stat(secret)).mode & 0o777).toString(8), secret).toBe('600');
    }
    expect(await readFile(paths.htpasswd, 'utf8')).toMatch(/^ag:\$2y\$05\$/);
    const config = await readFile(paths.config, 'utf8');
    expect(config).toMatch(/delete:\n\s+enabled: false/);
    expect(config).toContain(`rootdirectory: ${paths.storage}`);
    expect(process.kill(await pid(paths.pidFile), 0)).toBe(true);

    // The registry's certs/ directory as it is serves as skopeo's --cert-dir (and a certs.d/<host>/): it holds
    // only ca.crt; a key there would make skopeo look for its client certificate and fail.
    certDir = paths.certsDir;
    expect(await readdir(certDir)).toEqual(['ca.crt']);
  });

  it('takes pushes from skopeo with the generated CA and credentials, digests kept', async () => {
    const push = await skopeo([
      'copy', '--all', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', credentials,
      `oci:${layoutDir}:registry.k8s.io/pause:3.9`, `docker://${endpoint}/registry.k8s.io/pause:3.9`,
    ]);
    expect(push.ok, push.output).toBe(true);
    const pushDocker = await skopeo([
      'copy', '--all', '--preserve-digests', '--dest-cert-dir', certDir, '--dest-creds', credentials,
      `oci:${layoutDir}:docker.io/library/hello:1`, `docker://${endpoint}/docker.io/library/hello:1`,
    ]);
    expect(pushDocker.ok, pushDocker.output).toBe(true);
    const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8'));
    const pauseDigest = index.manifests.find((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'] === 'registry.k8s.io/pause:3.9').digest;
    const inspect = await skopeo(['inspect', '--raw', '--cert-dir', certDir, '--creds', credentials, `docker://${endpoint}/registry.k8s.io/pause:3.9`]);
    expect(inspect.ok, inspect.output).toBe(true);
    expect(JSON.parse(inspect.output).manifests).toHaveLength(2);
    const digest = await skopeo(['inspect', '--format', '{{.Digest}}', '--cert-dir', certDir, '--creds', credentials, `docker://${endpoint}/registry.k8s.io/pause:3.9`]);
    expect(digest.output.trim()).toBe(pauseDigest);
  });

  it('takes pushes from ag-images push, which finds endpoint, CA and credentials in the document', async () => {
    const { code, stderr } = await agImages(['push', 'quay.io/team/app:1', '--layout', layoutDir], upDocument);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`quay.io/team/app:1 -> ${endpoint}/quay.io/team/app:1`);
    const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8'));
    const appDigest = index.manifests.find((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'] === 'quay.io/team/app:1').digest;
    const digest = await skopeo(['inspect', '--format', '{{.Digest}}', '--cert-dir', certDir, '--creds', credentials, `docker://${endpoint}/quay.io/team/app:1`]);
    expect(digest.output.trim()).toBe(appDigest);
  });

  it('takes images whose upstream has a port as <host>_<port>/…, which containerd pulls by their upstream names through ag-registry trust', async () => {
    const pushed = await agImages(['push', ...PORTED, '--layout', layoutDir], upDocument);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stderr).toContain(`registry.corp:5000/team/app:1 -> ${endpoint}/registry.corp_5000/team/app:1`);
    expect(pushed.stderr).toContain(`localhost:5000/x:1 -> ${endpoint}/localhost_5000/x:1`);
    const digest = await skopeo(['inspect', '--format', '{{.Digest}}', '--cert-dir', certDir, '--creds', credentials, `docker://${endpoint}/registry.corp_5000/team/app:1`]);
    expect(digest.ok, digest.output).toBe(true);

    // trust takes the upstreams from the images the document names (push wrote them into it).
    const node = join(dir, 'node');
    const trusted = await cli(['trust', '--root', node], pushed.stdout);
    expect(trusted.code, trusted.stderr).toBe(0);
    const certsD = join(node, 'etc', 'containerd', 'certs.d');
    // containerd looks up certs.d/<host>:<port> for a registry with a port (docs/hosts.md, "Registry Host Namespace").
    expect(await readdir(certsD)).toEqual(expect.arrayContaining(['registry.corp:5000', 'localhost:5000']));
    const mirror = parseToml(await readFile(join(certsD, 'registry.corp:5000', 'hosts.toml'), 'utf8')) as { server: string; host: Record<string, unknown> };
    expect(mirror.server).toBe('https://registry.corp:5000');
    expect(Object.keys(mirror.host)).toEqual([`https://${endpoint}/v2/registry.corp_5000`]);

    containerd = await startContainerd();
    for (const ref of PORTED) {
      await containerd.ctr(['images', 'pull', '--hosts-dir', certsD, ref]);
      const { stdout } = await containerd.ctr(['run', '--rm', ref, `agr-port-${PORTED.indexOf(ref)}`]);
      expect(stdout.trim()).toBe(`hello from ${ref}`);
    }
    const listed = await containerd.ctr(['images', 'ls']);
    expect(listed.stdout).toContain(digest.output.trim());

    // A reference may spell its host in capitals, and containerd looks for certs.d/<host> as spelled
    // (core/remotes/docker/config/hosts.go, hostPaths): trust writes that directory, mirrored to the same lower-case path.
    const capitals = 'Registry.Corp:5000';
    const trustedCapitals = await cli(['trust', '--root', node, '--upstream', capitals], pushed.stdout);
    expect(trustedCapitals.code, trustedCapitals.stderr).toBe(0);
    const capitalMirror = parseToml(await readFile(join(certsD, capitals, 'hosts.toml'), 'utf8')) as { server: string; host: Record<string, unknown> };
    expect(Object.keys(capitalMirror.host)).toEqual([`https://${endpoint}/v2/registry.corp_5000`]);
    await containerd.ctr(['images', 'pull', '--hosts-dir', certsD, `${capitals}/team/app:1`]);
    const { stdout } = await containerd.ctr(['run', '--rm', `${capitals}/team/app:1`, 'agr-port-capitals']);
    expect(stdout.trim()).toBe('hello from registry.corp:5000/team/app:1');
  });

  it('refuses anonymous pushes and pulls (401), a wrong password, and plain HTTP', async () => {
    const ca = join(certDir, 'ca.crt');
    const anonymous = await curl(['--cacert', ca, '-X', 'POST', `https://${endpoint}/v2/evil/blobs/uploads/`]);
    expect(anonymous.status).toBe('401');
    expect(JSON.parse(anonymous.body).errors[0].code).toBe('UNAUTHORIZED');
    const anonymousPull = await curl(['--cacert', ca, `https://${endpoint}/v2/registry.k8s.io/pause/manifests/3.9`]);
    expect(anonymousPull.status).toBe('401');
    const wrong = await curl(['--cacert', ca, '-u', 'ag:wrong-password', '-X', 'POST', `https://${endpoint}/v2/evil/blobs/uploads/`]);
    expect(wrong.status).toBe('401');
    const right = await curl(['--cacert', ca, '-u', credentials, `https://${endpoint}/v2/`]);
    expect(right.status).toBe('200');

    const skopeoAnonymous = await skopeo(['copy', '--dest-cert-dir', certDir, `oci:${layoutDir}:docker.io/library/hello:1`, `docker://${endpoint}/evil/hello:1`]);
    expect(skopeoAnonymous.ok).toBe(false);
    expect(skopeoAnonymous.output).toMatch(/authentication required|unauthorized/i);
    const skopeoWrong = await skopeo(['copy', '--dest-cert-dir', certDir, '--dest-creds', 'ag:wrong', `oci:${layoutDir}:docker.io/library/hello:1`, `docker://${endpoint}/evil/hello:1`]);
    expect(skopeoWrong.ok).toBe(false);
    expect(skopeoWrong.output).toMatch(/authentication required|unauthorized/i);

    const plain = await curl(['-u', credentials, `http://${endpoint}/v2/`]);
    expect(plain.status).toBe('400');
    expect(plain.body).toContain('HTTP request to an HTTPS server');
    // And TLS is not accepted from a client that does not trust the CA.
    const untrusted = await curl([`https://${endpoint}/v2/`]);
    expect(untrusted.status).toBe('000');
    expect(untrusted.error).toMatch(/certificate/i);
  });

  it('says so and exits 0 when up runs again with the same configuration', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const before = await pid(paths.pidFile);
    const again = await cli(upArgs);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already runs with this configuration');
    expect(await pid(paths.pidFile)).toBe(before);
    expect(JSON.parse(again.stdout).registry.endpoint).toBe(endpoint);
  });

  it('reports status: up, TLS valid, repositories and blobs', async () => {
    const result = await cli(['status', '--state-dir', join(dir, 'registry')]);
    expect(result.code, result.stderr).toBe(0);
    const found = JSON.parse(result.stdout).registry.status;
    expect(found).toMatchObject({ running: true, answering: true, tls: { valid: true }, repositories: 5 });
    // pause (2 platforms) and hello (2 platforms): indexes, manifests, configs and layers, shared busybox layers once.
    expect(found.blobs).toBeGreaterThanOrEqual(10);
  });

  it('restarts the registry when it dies (supervision)', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const supervisor = await pid(paths.pidFile);
    // From source the supervisor also has tsx's esbuild service as a child: pick the registry by name.
    const children = async () =>
      (await execa('pgrep', ['-P', String(supervisor), '-f', DOCKER_REGISTRY_BIN]).catch(() => ({ stdout: '' }))).stdout.trim();
    const child = Number(await children());
    expect(child).toBeGreaterThan(0);
    process.kill(child, 'SIGKILL');
    let replacement = 0;
    let answered = false;
    for (let i = 0; i < 150 && !(answered && replacement > 0); i++) {
      await sleep(100);
      const now = Number(await children());
      replacement = now > 0 && now !== child ? now : 0;
      answered = replacement > 0 && (await curl(['--cacert', join(certDir, 'ca.crt'), '-u', credentials, `https://${endpoint}/v2/`])).status === '200';
    }
    const log = await readFile(paths.logFile, 'utf8');
    expect(replacement, log.slice(-2000)).toBeGreaterThan(0);
    expect(answered, log.slice(-2000)).toBe(true);
    expect(log).toMatch(/registry killed by SIGKILL; restarting in 1 s/);
  });

  it('a push rides out a registry restart: the registry is killed mid-push, the supervisor restarts it, the push completes', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const logStart = (await stat(paths.logFile)).size;
    const push = agImages(['push', ...RESTART_IMAGES, '--layout', layoutDir, '--concurrency', '2'], upDocument);
    // Kill the registry once the push is sending blobs (distribution logs each request).
    let killed: number | undefined;
    for (let i = 0; i < 300 && killed === undefined; i++) {
      await sleep(20);
      const log = (await readFile(paths.logFile, 'utf8')).slice(logStart);
      if (/example\.org\/restart\/app\d\/blobs\/uploads/.test(log)) {
        killed = (await liveChild(paths))!.pid;
        process.kill(killed, 'SIGKILL');
      }
    }
    expect(killed, 'the push never reached the registry').toBeDefined();
    const { code, stderr } = await push;
    expect(code, stderr).toBe(0);
    // It was refused while the supervisor waited 1 s to restart the registry, and waited.
    expect(stderr).toMatch(/ECONNREFUSED[^\n]*; retrying in/);
    expect((await liveChild(paths))!.pid).not.toBe(killed);
    for (const ref of RESTART_IMAGES) {
      const inspect = await skopeo(['inspect', '--raw', '--cert-dir', certDir, '--creds', credentials, `docker://${endpoint}/${ref}`]);
      expect(inspect.ok, `${ref}: ${inspect.output}`).toBe(true);
    }
  });

  it('restarts with the new configuration when it changes, keeping the CA and the pushed images', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const ca = await readFile(paths.caCert, 'utf8');
    const changed = await cli([...upArgs, '--host', 'registry.internal']);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).toContain('runs with another configuration; restarting it');
    expect(JSON.parse(changed.stdout).registry.certificates.sans).toContain('DNS:registry.internal');
    expect(await readFile(paths.caCert, 'utf8')).toBe(ca);
    const inspect = await skopeo(['inspect', '--raw', '--cert-dir', certDir, '--creds', credentials, `docker://${endpoint}/docker.io/library/hello:1`]);
    expect(inspect.ok, inspect.output).toBe(true);
  });

  it('status exits 3 when the registry answers with a certificate its CA file does not vouch for', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const original = await readFile(paths.caCert, 'utf8');
    const other = join(dir, 'other-ca');
    await ensureCertificates({ dir: other, names: { dns: ['localhost'], ips: [] } });
    await writeFile(paths.caCert, await readFile(registryPaths(other).caCert, 'utf8'));
    try {
      const result = await cli(['status', '--state-dir', paths.dir]);
      expect(result.code, result.stderr).toBe(3);
      const found = JSON.parse(result.stdout).registry.status;
      expect(found.tls.valid).toBe(false);
      expect(found.tls.error).toMatch(/certificate|signature/i);
      expect(result.stderr).toContain('its TLS is not valid');
    } finally {
      await writeFile(paths.caCert, original);
    }
  });

  it('status exits 8 when the registry refuses the credentials file, naming it', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const original = await readFile(paths.credentials, 'utf8');
    await writeFile(paths.credentials, 'ag:not-the-password\n');
    try {
      const result = await cli(['status', '--state-dir', paths.dir]);
      expect(result.code, result.stderr).toBe(8);
      expect(result.stderr).toContain(`answers, but refuses the credentials of ${paths.credentials} (401)`);
    } finally {
      await writeFile(paths.credentials, original);
    }
  });

  it('prints a plan and changes nothing with --dry-run', async () => {
    const fresh = join(dir, 'never');
    const result = await cli(['up', '--state-dir', fresh, '--listen', '127.0.0.1:1', '--registry-binary', DOCKER_REGISTRY_BIN, '--init', 'process', '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse(result.stderr.split('\n').find((line) => line.startsWith('{'))!);
    expect(plan).toMatchObject({ dryRun: true, mode: 'distribution', runner: 'process', endpoint: '127.0.0.1:1' });
    expect(plan.steps.map((s: { action: string }) => s.action)).toContain('start');
    await expect(stat(fresh)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('the registry dies with its supervisor (kill -9): status says down, up starts a supervised one', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const supervisor = await pid(paths.pidFile);
    const child = await liveChild(paths);
    expect(child?.argv[0]).toBe(DOCKER_REGISTRY_BIN);
    process.kill(supervisor, 'SIGKILL');
    // The kernel sends the registry its parent-death signal (setpriv --pdeathsig TERM).
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      await sleep(50);
      gone = !alive(child!.pid);
    }
    expect(gone).toBe(true);
    const down = await cli(['status', '--state-dir', paths.dir]);
    expect(down.code, down.stderr).toBe(4);
    const again = await cli(upArgs);
    expect(again.code, again.stderr).toBe(0);
    expect((await liveChild(paths))?.pid).not.toBe(child!.pid);
    expect((await cli(['status', '--state-dir', paths.dir])).code).toBe(0);
  });

  it('finds a registry left without its supervisor: status exits 6 "unsupervised", up replaces it, down stops it', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    // An orphan the parent-death signal did not reach (no setpriv): the registry itself, started outside the supervisor.
    const orphan = async () => {
      process.kill(await pid(paths.pidFile), 'SIGKILL');
      for (let i = 0; i < 100 && (await liveChild(paths)) !== undefined; i++) await sleep(50);
      const started = spawn(DOCKER_REGISTRY_BIN, ['serve', paths.config], { detached: true, stdio: 'ignore' });
      started.unref();
      await recordChild(paths, started.pid!, [DOCKER_REGISTRY_BIN, 'serve', paths.config]);
      for (let i = 0; i < 100 && (await curl(['--cacert', join(certDir, 'ca.crt'), '-u', credentials, `https://${endpoint}/v2/`])).status !== '200'; i++) await sleep(100);
      return started.pid!;
    };
    const first = await orphan();
    const found = await cli(['status', '--state-dir', paths.dir]);
    expect(found.code, found.stderr).toBe(6);
    expect(found.stderr).toContain('answers, but unsupervised');
    expect(JSON.parse(found.stdout).registry.status).toMatchObject({ running: true, answering: true, supervised: false });

    const replaced = await cli(upArgs);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toContain(`the registry process ${first} runs without its supervisor`);
    expect(alive(first)).toBe(false);
    expect(JSON.parse((await cli(['status', '--state-dir', paths.dir])).stdout).registry.status).toMatchObject({ supervised: true, answering: true });

    const second = await orphan();
    const stopped = await cli(['down', '--state-dir', paths.dir]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('stopped the registry');
    expect(alive(second)).toBe(false);
    // up again for the tests after this one.
    expect((await cli(upArgs)).code).toBe(0);
  });

  it('stops with down, and down again finds nothing to do', async () => {
    const paths = registryPaths(join(dir, 'registry'));
    const supervisor = await pid(paths.pidFile);
    const result = await cli(['down', '--state-dir', paths.dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(() => process.kill(supervisor, 0)).toThrow();
    await expect(stat(paths.pidFile)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await curl(['--cacert', join(certDir, 'ca.crt'), `https://${endpoint}/v2/`])).status).toBe('000');
    const status = await cli(['status', '--state-dir', paths.dir]);
    expect(status.code).toBe(4);
    expect(JSON.parse(status.stdout).registry.status).toMatchObject({ running: false, answering: false });
    const again = await cli(['down', '--state-dir', paths.dir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to do');
  });
});
