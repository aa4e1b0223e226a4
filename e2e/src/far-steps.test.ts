import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptContainerdConfig, DEBIAN_12_NODE } from './far-root.js';
import { manifestImages } from './far-side.js';
import { nodeFoundWith, withoutNode } from './no-node.js';
import { notRoot } from './prerequisites.js';
import { STEP_SCRIPTS } from './tools.js';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const EXE = 'tools/amd64/ag';

/**
 * A bundle-shaped tar: the members far-bootstrap.sh reads, SHA256SUMS signed with `key`. Its
 * tools/amd64/ag is a stand-in that says how it was called (the real executable runs in the
 * simulated-gap e2e): what matters here is what the script lets run.
 */
async function bundle(dir: string, key: string, options: { tamper?: 'tool' | 'sums' | 'unlisted' } = {}): Promise<string> {
  const root = join(dir, `root-${options.tamper ?? 'ok'}`);
  await mkdir(join(root, 'tools', 'amd64'), { recursive: true });
  const tool = '#!/bin/sh\necho "ran as $(basename "$0") $*"\n';
  await writeFile(join(root, EXE), tool);
  await chmod(join(root, EXE), 0o755);
  const sums = options.tamper === 'unlisted' ? `${sha256('other')}  tools/ag-bundle.mjs\n` : `${sha256(tool)}  ${EXE}\n`;
  await writeFile(join(root, 'SHA256SUMS'), sums);
  await execa('openssl', ['dgst', '-sha256', '-sign', key, '-out', join(root, 'SHA256SUMS.sig'), join(root, 'SHA256SUMS')]);
  if (options.tamper === 'tool') await writeFile(join(root, EXE), '#!/bin/sh\necho something else\n');
  if (options.tamper === 'sums') await writeFile(join(root, 'SHA256SUMS'), sums.replace(/^./, (c) => (c === '0' ? '1' : '0')));
  const tarFile = join(dir, `bundle-${options.tamper ?? 'ok'}.tar`);
  await execa('tar', ['-cf', tarFile, '-C', root, 'SHA256SUMS', 'SHA256SUMS.sig', 'tools']);
  return tarFile;
}

describe('steps/far-bootstrap.sh: the far side runs nothing before openssl and sha256sum have checked it', () => {
  let dir: string;
  let key: string;
  let pub: string;
  const bootstrap = (tarFile: string, publicKey: string, work: string) =>
    execa('sh', [join(STEP_SCRIPTS, 'far-bootstrap.sh'), tarFile, publicKey, work, 'amd64'], { reject: false });

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

  it('checks the signature and the executable\'s sum, then runs it as ag-bundle verify (its document on stdout)', async () => {
    const tarFile = await bundle(dir, key);
    const result = await bootstrap(tarFile, pub, join(dir, 'work-ok'));
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain('Verified OK');
    expect(result.stderr).toContain(`${EXE}: OK`);
    // Run through the link ag-bundle -> ag: the executable picks the tool by that name.
    expect(result.stderr).toContain('ran as ag-bundle --version');
    expect(result.stdout).toBe(`ran as ag-bundle verify ${tarFile} --key ${pub}`);
  });

  it('stops at an executable that does not match the signed list, before running it', async () => {
    const result = await bootstrap(await bundle(dir, key, { tamper: 'tool' }), pub, join(dir, 'work-tool'));
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`${EXE}: FAILED`);
    expect(result.stdout + result.stderr).not.toContain('something else');
  });

  it('stops when the signed list does not name the executable', async () => {
    const result = await bootstrap(await bundle(dir, key, { tamper: 'unlisted' }), pub, join(dir, 'work-unlisted'));
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout + result.stderr).not.toContain('ran as');
  });

  it('stops at a list whose signature does not verify, or a key that did not sign it', async () => {
    const tampered = await bootstrap(await bundle(dir, key, { tamper: 'sums' }), pub, join(dir, 'work-sums'));
    expect(tampered.exitCode).not.toBe(0);
    expect(tampered.stdout + tampered.stderr).toContain('Verification failure');
    expect(tampered.stdout + tampered.stderr).not.toContain('ran as');
    const other = join(dir, 'other.pem');
    await execa('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', other]);
    await execa('openssl', ['ec', '-in', other, '-pubout', '-out', `${other}.pub`]);
    const wrongKey = await bootstrap(await bundle(dir, key), `${other}.pub`, join(dir, 'work-key'));
    expect(wrongKey.exitCode).not.toBe(0);
  });

  it('names every program the node lacks (tar, xz, openssl) before it writes anything', async () => {
    // A PATH with everything the script needs but xz and openssl, as on a minimal cloud box.
    const path = join(dir, 'path-without');
    await mkdir(path, { recursive: true });
    for (const program of ['tar', 'sha256sum', 'awk', 'mkdir', 'ln', 'wc', 'cat']) {
      const { stdout } = await execa('sh', ['-c', `command -v ${program}`]);
      await symlink(stdout.trim(), join(path, program));
    }
    const work = join(dir, 'work-missing');
    const result = await execa('/bin/sh', [join(STEP_SCRIPTS, 'far-bootstrap.sh'), await bundle(dir, key), pub, work, 'amd64'], { reject: false, env: { PATH: path }, extendEnv: false });
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toContain('far-bootstrap: this node lacks: xz openssl;');
    expect(result.stderr).toContain('dnf install tar xz openssl');
    await expect(stat(work)).rejects.toThrow(/ENOENT/);
  });

  it('refuses an architecture the bundle carries no executable for', async () => {
    const result = await execa('sh', [join(STEP_SCRIPTS, 'far-bootstrap.sh'), 'b.tar', pub, join(dir, 'work-arch'), 'riscv64'], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('no ag executable for riscv64');
  });
});

describe.skipIf(notRoot() !== undefined)('the far side without Node.js (no-node.ts)', () => {
  it('hides every node of this machine in its mount namespace, and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-no-node-'));
    try {
      // The control: here, node is found.
      expect(nodeFoundWith([])).not.toBe('');
      const prefix = await withoutNode([], join(dir, 'whiteouts'));
      expect(nodeFoundWith(prefix)).toBe('');
      const [program, ...args] = [...prefix, 'sh', '-c', `test ! -e ${process.execPath} && tar --version && openssl version && sha256sum --version`];
      const inside = await execa(program!, args, { reject: false });
      expect(inside.exitCode, inside.stderr).toBe(0);
      expect(inside.stdout).toContain('GNU tar');
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
