import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptContainerdConfig, DEBIAN_12_NODE } from './far-root.js';
import { manifestImages } from './far-side.js';
import { STEP_SCRIPTS } from './tools.js';

const NODE_MEMBER = 'files/extra/node-v20.20.0-linux-x64.tar.xz';
const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** A bundle-shaped tar: the members far-bootstrap.sh reads, SHA256SUMS signed with `key`, plus `extra` members. */
async function bundle(dir: string, key: string, options: { tamper?: 'tool' | 'sums' } = {}): Promise<string> {
  const root = join(dir, `root-${options.tamper ?? 'ok'}`);
  await mkdir(join(root, 'tools'), { recursive: true });
  await mkdir(join(root, 'files', 'extra'), { recursive: true });
  const stage = join(dir, 'node-src', 'node-v20.20.0-linux-x64', 'bin');
  await mkdir(stage, { recursive: true });
  await writeFile(join(stage, 'node'), `#!/bin/sh\necho "v20.20.0 (bootstrap test)"\n`);
  await chmod(join(stage, 'node'), 0o755);
  await execa('tar', ['-cJf', join(root, NODE_MEMBER), '-C', join(dir, 'node-src'), 'node-v20.20.0-linux-x64']);
  const tool = 'console.log("ag-bundle")\n';
  await writeFile(join(root, 'tools', 'ag-bundle.mjs'), tool);
  const sums = `${sha256(tool)}  tools/ag-bundle.mjs\n${sha256(await readFile(join(root, NODE_MEMBER)))}  ${NODE_MEMBER}\n`;
  await writeFile(join(root, 'SHA256SUMS'), sums);
  await execa('openssl', ['dgst', '-sha256', '-sign', key, '-out', join(root, 'SHA256SUMS.sig'), join(root, 'SHA256SUMS')]);
  if (options.tamper === 'tool') await writeFile(join(root, 'tools', 'ag-bundle.mjs'), 'console.log("something else")\n');
  if (options.tamper === 'sums') await writeFile(join(root, 'SHA256SUMS'), sums.replace(/^./, (c) => (c === '0' ? '1' : '0')));
  const tarFile = join(dir, `bundle-${options.tamper ?? 'ok'}.tar`);
  await execa('tar', ['-cf', tarFile, '-C', root, 'SHA256SUMS', 'SHA256SUMS.sig', 'tools', 'files']);
  return tarFile;
}

describe('steps/far-bootstrap.sh: the far side trusts nothing before openssl and sha256sum have', () => {
  let dir: string;
  let key: string;
  let pub: string;
  const bootstrap = (tarFile: string, publicKey: string, work: string) =>
    execa('sh', [join(STEP_SCRIPTS, 'far-bootstrap.sh'), tarFile, publicKey, work, NODE_MEMBER], { reject: false });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-far-bootstrap-'));
    key = join(dir, 'key.pem');
    pub = join(dir, 'key.pub.pem');
    await execa('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    await execa('openssl', ['ec', '-in', key, '-pubout', '-out', pub]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('unpacks Node.js when the signature and both members check', async () => {
    const work = join(dir, 'work-ok');
    const result = await bootstrap(await bundle(dir, key), pub, work);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('v20.20.0 (bootstrap test)');
    expect(result.stdout).toContain('tools/ag-bundle.mjs: OK');
  });

  it('stops at a member that does not match the signed list, before Node.js is unpacked', async () => {
    const work = join(dir, 'work-tool');
    const result = await bootstrap(await bundle(dir, key, { tamper: 'tool' }), pub, work);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout).toContain('tools/ag-bundle.mjs: FAILED');
    await expect(readFile(join(work, 'node', 'bin', 'node'))).rejects.toThrow();
  });

  it('stops at a list whose signature does not verify, or a key that did not sign it', async () => {
    const tampered = await bootstrap(await bundle(dir, key, { tamper: 'sums' }), pub, join(dir, 'work-sums'));
    expect(tampered.exitCode).not.toBe(0);
    expect(tampered.stdout + tampered.stderr).toContain('Verification failure');
    const other = join(dir, 'other.pem');
    await execa('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', other]);
    await execa('openssl', ['ec', '-in', other, '-pubout', '-out', `${other}.pub`]);
    const wrongKey = await bootstrap(await bundle(dir, key), `${other}.pub`, join(dir, 'work-key'));
    expect(wrongKey.exitCode).not.toBe(0);
  });
});

describe('steps/node-sha256.sh', () => {
  it("prints the sha256 SHASUMS256.txt gives one file, and fails for a file it does not list", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-node-sha-'));
    try {
      const sums = join(dir, 'SHASUMS256.txt');
      const hex = sha256('node');
      await writeFile(sums, `${sha256('other')}  node-v20.20.0-linux-arm64.tar.xz\n${hex}  node-v20.20.0-linux-x64.tar.xz\n`);
      const found = await execa('sh', [join(STEP_SCRIPTS, 'node-sha256.sh'), sums, 'node-v20.20.0-linux-x64.tar.xz']);
      expect(found.stdout).toBe(hex);
      const missing = await execa('sh', [join(STEP_SCRIPTS, 'node-sha256.sh'), sums, 'node-v20.20.0-linux-x64.tar.gz'], { reject: false });
      expect(missing.exitCode).toBe(1);
      expect(missing.stdout).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the far node for ag-nodeprep --root', () => {
  it("runs containerd with ag-nodeprep's config, moving only root, state, sockets and config_path", async () => {
    const written = `version = 2\n[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "registry.k8s.io/pause:3.9"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\nSystemdCgroup = false\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/etc/containerd/certs.d"\n`;
    const adapted = adaptContainerdConfig(written, '/tmp/x/ctrd', '/tmp/x/root/etc/containerd/certs.d');
    expect(adapted).toMatch(/^root = "\/tmp\/x\/ctrd\/root"$/m);
    expect(adapted).toMatch(/^state = "\/tmp\/x\/ctrd\/state"$/m);
    expect(adapted).toContain('address = "/tmp/x/ctrd/containerd.sock"');
    expect(adapted).toContain('config_path = "/tmp/x/root/etc/containerd/certs.d"');
    expect(adapted).toContain('sandbox_image = "registry.k8s.io/pause:3.9"');
    expect(adapted).toContain('SystemdCgroup = false');
    // A config without the certs.d mirrors is not one ag-nodeprep writes: refuse rather than run without them.
    expect(() => adaptContainerdConfig(DEBIAN_12_NODE['etc/containerd/config.toml']!, '/tmp/x', '/tmp/y')).toThrow(/config_path/);
  });

  it('finds every image a multi-document manifest names', () => {
    const manifest = [
      'kind: DaemonSet',
      'spec:',
      '  template:',
      '    spec:',
      '      initContainers:',
      '        - image: docker.io/flannel/flannel-cni-plugin:v1.1.2@sha256:aa',
      '      containers:',
      '        - image: docker.io/flannel/flannel:v0.22.0@sha256:bb',
      '---',
      'kind: Namespace',
      '---',
      'kind: Pod',
      'spec: { containers: [ { image: docker.io/flannel/flannel:v0.22.0@sha256:bb } ] }',
    ].join('\n');
    expect(manifestImages(manifest)).toEqual(['docker.io/flannel/flannel-cni-plugin:v1.1.2@sha256:aa', 'docker.io/flannel/flannel:v0.22.0@sha256:bb']);
  });
});
