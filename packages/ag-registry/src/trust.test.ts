import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseToml } from 'smol-toml';
import { createTestIo } from '@ag/core/testing';
import {
  echoImage,
  freePort,
  generatedLayout,
  LINUX_AMD64,
  LINUX_ARM64,
  pauseStandIn,
  REAL_CONTAINERDS,
  startContainerd,
  type Descriptor,
  type PrivateContainerd,
} from '@ag/fixtures';
import { main } from './cli.js';
import { cli } from './testing/run.js';
import { registryPaths } from './paths.js';


let dir: string;
let registryDir: string;
let root: string;
let endpoint: string;
let upDocument: string;
let containerd: PrivateContainerd | undefined;
const digests: Record<string, string> = {};


/** How much the access log holds now: expectServed looks only at what comes after. */
async function accessLogLength(): Promise<number> {
  return (await stat(registryPaths(registryDir).accessLog).catch(() => ({ size: 0 }))).size;
}

/** The embedded registry appends its request lines to access.log once a second: wait up to 5 s for one after byte `from`. */
async function expectServed(line: RegExp, from = 0): Promise<void> {
  const log = registryPaths(registryDir).accessLog;
  let served = '';
  for (let waited = 0; waited <= 5_000; waited += 250) {
    served = (await readFile(log).catch(() => Buffer.alloc(0))).subarray(from).toString('utf8');
    if (line.test(served)) return;
    await new Promise((done) => setTimeout(done, 250));
  }
  expect(served).toMatch(line);
}

const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);

/** A bundle document naming the layout's images, one of them from a registry outside the default four. */
function bundleDocument(images: Array<{ ref: string; descriptor: Descriptor }>): string {
  return JSON.stringify({
    apiVersion: 'ag/v1alpha1',
    kind: 'Cluster',
    root: dir,
    images: {
      layout: 'images',
      platforms: ['linux/amd64', 'linux/arm64'],
      images: images.map(({ ref, descriptor }) => ({
        ref,
        digest: descriptor.digest,
        mediaType: descriptor.mediaType,
        upstreamDigest: descriptor.digest,
        partial: false,
        manifests: [],
      })),
    },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-trust-'));
  const layout = await generatedLayout(join(dir, 'images'));
  const pause = await layout.writeImageSpec({ ref: 'registry.k8s.io/pause:3.9', mediaTypes: 'oci', platforms: [pauseStandIn(LINUX_AMD64), pauseStandIn(LINUX_ARM64)] });
  const hello = await layout.writeImageSpec({ ref: 'docker.io/library/hello:1', mediaTypes: 'docker', platforms: [echoImage('hello from the internal registry', LINUX_AMD64), echoImage('hello', LINUX_ARM64)] });
  const app = await layout.writeImageSpec({ ref: 'mirror.example.org/team/app:1', mediaTypes: 'oci', index: false, platforms: [echoImage('app', LINUX_AMD64)] });
  const ported = await layout.writeImageSpec({ ref: 'registry.corp:5000/team/app:1', mediaTypes: 'oci', platforms: [echoImage('hello through a port', LINUX_AMD64), echoImage('port', LINUX_ARM64)] });
  digests['pause'] = pause.digest;
  digests['ported'] = ported.digest;
  registryDir = join(dir, 'registry');
  root = join(dir, 'node');
  endpoint = `127.0.0.1:${await freePort()}`;
  const up = await cli(
    ['up', '--mode', 'embedded', '--state-dir', registryDir, '--listen', endpoint, '--init', 'process', '--host', 'localhost', '--ip', '127.0.0.1'],
    bundleDocument([
      { ref: 'registry.k8s.io/pause:3.9', descriptor: pause },
      { ref: 'docker.io/library/hello:1', descriptor: hello },
      { ref: 'mirror.example.org/team/app:1', descriptor: app },
      { ref: 'registry.corp:5000/team/app:1', descriptor: ported },
    ]),
  );
  if (up.code !== 0) throw new Error(`up failed (${up.code}):\n${up.stderr}`);
  upDocument = up.stdout;
});

afterAll(async () => {
  await containerd?.stop();
  await main(['down', '--state-dir', registryDir], createTestIo());
  await rm(dir, { recursive: true, force: true });
});

describe('ag-registry up --mode embedded, then trust', () => {
  it('serves the bundle layout in place (no second copy) and records it in the document', async () => {
    const registry = JSON.parse(upDocument).registry;
    expect(registry).toMatchObject({ endpoint, mode: 'embedded', runner: 'process', layout: join(dir, 'images') });
    // Nothing but certificates, credentials and run state in the registry directory: no storage, no copied blobs.
    expect((await readdir(registryDir)).sort()).toEqual(['auth', 'certs', 'private', 'registry.log', 'run']);
    const status = await cli(['status', '--state-dir', registryDir]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).registry.status).toMatchObject({ answering: true, tls: { valid: true }, repositories: 4 });
  });

  it('writes certs.d for containerd: the CA, the registry, and a mirror for every upstream, the document\'s included', async () => {
    const result = await cli(['trust', '--root', root], upDocument);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(upDocument));
    const certsD = join(root, 'etc', 'containerd', 'certs.d');
    expect((await readdir(certsD)).sort()).toEqual([endpoint, 'docker.io', 'ghcr.io', 'mirror.example.org', 'quay.io', 'registry.corp:5000', 'registry.k8s.io'].sort());
    expect(await readFile(join(certsD, endpoint, 'ca.crt'), 'utf8')).toBe(await readFile(registryPaths(registryDir).caCert, 'utf8'));
    const mirror = parseToml(await readFile(join(certsD, 'registry.k8s.io', 'hosts.toml'), 'utf8')) as { host: Record<string, { header: { authorization: string } }> };
    const host = mirror.host[`https://${endpoint}/v2/registry.k8s.io`]!;
    expect(host).toMatchObject({ capabilities: ['pull', 'resolve'], override_path: true, ca: `../${endpoint}/ca.crt` });
    const credentials = (await readFile(registryPaths(registryDir).credentials, 'utf8')).trim();
    expect(host.header.authorization).toBe(`Basic ${Buffer.from(credentials).toString('base64')}`);
    // Files that carry the credentials are 0600; the CA is public.
    expect(await mode(join(certsD, 'registry.k8s.io', 'hosts.toml'))).toBe('600');
    expect(await mode(join(certsD, endpoint, 'ca.crt'))).toBe('644');
    // No docker or podman on this "node": none of their files.
    await expect(stat(join(root, 'etc', 'docker'))).rejects.toMatchObject({ code: 'ENOENT' });

    const again = await cli(['trust', '--root', root], upDocument);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('up to date; nothing to do');
  });

  it.each([...REAL_CONTAINERDS])('is used as is by $name: registry.k8s.io/pause and docker.io images come from the internal registry, and run', async (real) => {
    const { binDir } = await real.obtain();
    await containerd?.stop();
    const from = await accessLogLength();
    const certsD = join(root, 'etc', 'containerd', 'certs.d');
    containerd = await startContainerd({
      config: [
        'version = 2',
        'root = "{{dir}}/root"',
        'state = "{{dir}}/state"',
        '[grpc]',
        '  address = "{{dir}}/containerd.sock"',
        '[plugins."io.containerd.grpc.v1.cri".registry]',
        `  config_path = "${certsD}"`,
        '',
      ].join('\n'),
      ...(binDir === undefined ? {} : { binDir }),
    });
    // ctr reads hosts.toml only with --hosts-dir; the CRI plugin reads the same directory through config_path.
    await containerd.ctr(['images', 'pull', '--hosts-dir', certsD, 'registry.k8s.io/pause:3.9'], { namespace: 'k8s.io' });
    const listed = await containerd.ctr(['images', 'ls'], { namespace: 'k8s.io' });
    expect(listed.stdout).toContain('registry.k8s.io/pause:3.9');
    expect(listed.stdout).toContain(digests['pause']);
    await expectServed(/(HEAD|GET) \/v2\/registry\.k8s\.io\/pause\/manifests\/3\.9(\?\S*)? 200/, from);

    const paused = await containerd.ctr(['run', '--rm', 'registry.k8s.io/pause:3.9', 'agr-pause', '/bin/echo', 'pause runs'], { namespace: 'k8s.io' });
    expect(paused.stdout.trim()).toBe('pause runs');
    await containerd.ctr(['images', 'pull', '--hosts-dir', certsD, 'docker.io/library/hello:1'], { namespace: 'k8s.io' });
    const hello = await containerd.ctr(['run', '--rm', 'docker.io/library/hello:1', 'agr-hello'], { namespace: 'k8s.io' });
    expect(hello.stdout.trim()).toBe('hello from the internal registry');
    await expectServed(/(HEAD|GET) \/v2\/docker\.io\/library\/hello\/manifests\/1(\?\S*)? 200/, from);
    // An upstream with a port: containerd finds certs.d/registry.corp:5000 and asks for registry.corp_5000/….
    await containerd.ctr(['images', 'pull', '--hosts-dir', certsD, 'registry.corp:5000/team/app:1'], { namespace: 'k8s.io' });
    const ported = await containerd.ctr(['run', '--rm', 'registry.corp:5000/team/app:1', 'agr-ported'], { namespace: 'k8s.io' });
    expect(ported.stdout.trim()).toBe('hello through a port');
    await expectServed(/(HEAD|GET) \/v2\/registry\.corp_5000\/team\/app\/manifests\/1(\?\S*)? 200/, from);
  });

  it('writes the CA for docker and podman where they are present, and podman registry rewrites that skopeo follows', async () => {
    const node = join(dir, 'node-with-runtimes');
    await mkdir(join(node, 'etc', 'docker'), { recursive: true });
    await mkdir(join(node, 'etc', 'containers'), { recursive: true });
    const result = await cli(['trust', '--root', node], upDocument);
    expect(result.code, result.stderr).toBe(0);
    const ca = await readFile(registryPaths(registryDir).caCert, 'utf8');
    expect(await readFile(join(node, 'etc', 'docker', 'certs.d', endpoint, 'ca.crt'), 'utf8')).toBe(ca);
    const podmanCerts = join(node, 'etc', 'containers', 'certs.d', endpoint);
    expect(await readFile(join(podmanCerts, 'ca.crt'), 'utf8')).toBe(ca);
    const conf = join(node, 'etc', 'containers', 'registries.conf.d', '50-ag-registry.conf');
    // containers/image never sends --creds to a rewritten location: credentials come from an auth file (podman login writes one).
    const credentials = (await readFile(registryPaths(registryDir).credentials, 'utf8')).trim();
    const authFile = join(dir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { [endpoint]: { auth: Buffer.from(credentials).toString('base64') } } }));
    // The location is rewritten, not mirrored: nothing falls back to registry.k8s.io (no DNS lookup, no traffic off loopback).
    expect(await readFile(conf, 'utf8')).not.toMatch(/location = "registry\.k8s\.io"/);
    const { stdout } = await execa(
      'skopeo',
      ['--registries-conf', conf, 'inspect', '--raw', '--cert-dir', podmanCerts, '--authfile', authFile, 'docker://registry.k8s.io/pause:3.9'],
      { stripFinalNewline: false },
    );
    expect(`sha256:${createHash('sha256').update(stdout).digest('hex')}`).toBe(digests['pause']);
    // An upstream with a port is rewritten to its <host>_<port> repository.
    const ported = await execa(
      'skopeo',
      ['--registries-conf', conf, 'inspect', '--raw', '--cert-dir', podmanCerts, '--authfile', authFile, 'docker://registry.corp:5000/team/app:1'],
      { stripFinalNewline: false },
    );
    expect(`sha256:${createHash('sha256').update(ported.stdout).digest('hex')}`).toBe(digests['ported']);
  });

  it('works from flags alone, and refuses to run without an endpoint and a CA', async () => {
    const node = join(dir, 'flags-only');
    const paths = registryPaths(registryDir);
    const result = await cli(['trust', '--root', node, '--registry', endpoint, '--ca-file', paths.caCert, '--no-credentials-file', '--upstream', 'registry.gitlab.example']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    const mirror = await readFile(join(node, 'etc', 'containerd', 'certs.d', 'registry.gitlab.example', 'hosts.toml'), 'utf8');
    expect(mirror).not.toContain('authorization');
    expect(await mode(join(node, 'etc', 'containerd', 'certs.d', 'registry.gitlab.example', 'hosts.toml'))).toBe('644');
    const missing = await cli(['trust', '--root', node]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--registry HOST[:PORT][/PREFIX]');
  });
});
