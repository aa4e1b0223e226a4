import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgDocument } from '@ag/core';
import type { Shell, Command } from './shell.js';
import type { Stages } from './stages.js';
import type { UpstreamInfo } from './upstream/info.js';
import { NODE_RELEASE, NODE_TARBALL, NODE_TARBALL_URL } from './upstream/node-stand-in.js';

/** The cluster the run carries: the classic v1.27.3 procedure with flannel and podinfo, for this machine's OS (the far node is this Debian 12 host). */
export const CLUSTER = {
  kubernetesVersion: 'v1.27.3',
  arch: 'amd64',
  os: 'debian-12',
  cni: 'flannel@v0.22.0',
  chart: 'https://stefanprodan.github.io/podinfo/podinfo@6.4.0',
  appImage: 'ghcr.io/stefanprodan/podinfo:6.4.0',
} as const;

export interface ConnectedResult {
  /** The bundle file, on the connected side. */
  bundleFile: string;
  bundleBytes: number;
  /** The signing key's public half: the far side's trust anchor, carried once beforehand. */
  publicKey: string;
  /** The document ag-bundle pack wrote. */
  document: AgDocument;
}

/** `sha256  name` lines: the digest SHASUMS256.txt gives `name` (what `grep " $name$" SHASUMS256.txt` picks). */
export function sha256From(shasums: string, name: string): string {
  const line = shasums.split('\n').find((l) => l.trim().endsWith(`  ${name}`));
  const digest = line?.trim().split(/\s+/)[0];
  if (digest === undefined || !/^[a-f0-9]{64}$/.test(digest)) throw new Error(`SHASUMS256.txt names no sha256 for ${name}`);
  return digest;
}

/**
 * The connected side, as an operator types it (tools run with node from the
 * build the run made; `ag-X` in the transcript):
 *
 *   ag-bundle keygen --out keys/ag-bundle.pem
 *   ag-fetch plan … | ag-fetch download --no-os-packages | ag-images pull … | ag-bundle pack … > out/packed.json
 *
 * The stand-in upstream lives at loopback addresses inside the connected
 * namespace, so the stages reach it through their mirror options:
 * `--mirror-base URL` (ag-fetch: https://HOST/PATH from URL/HOST/PATH) and
 * `--mirror HOST:PORT` with `--ca-file` (ag-images: every upstream registry
 * as HOST:PORT/<upstream host>/<path>, with the credentials of
 * REGISTRY_AUTH_FILE). Every reference keeps its upstream name. OS packages
 * are left out (`--no-os-packages`): resolving them needs Debian's archive,
 * which issue 7's own test covers.
 */
export async function runConnectedSide(shell: Shell, stages: Stages, upstream: UpstreamInfo): Promise<ConnectedResult> {
  const tool = (name: string, args: string[], extra: Partial<Command> = {}): Command => ({
    argv: [process.execPath, `tools/${name}.mjs`, ...args],
    display: [name, ...args].join(' '),
    ...extra,
  });
  await mkdir(join(shell.cwd, 'out'), { recursive: true });
  await mkdir(join(shell.cwd, 'keys'), { recursive: true });
  await stages.run('connected', 'ag-bundle keygen (once per site)', () => shell.run(tool('ag-bundle', ['keygen', '--out', 'keys/ag-bundle.pem'], { stdout: 'keys/keygen.json' })));

  // What an operator copies out of nodejs.org's SHASUMS256.txt (run.sh greps it the same way).
  const shasums = await readFile(join(upstream.files.root, 'nodejs.org', 'dist', NODE_RELEASE, 'SHASUMS256.txt'), 'utf8');
  const nodeSha256 = sha256From(shasums, NODE_TARBALL);

  stages.reporter.stage('connected', 'plan | download | pull | pack');
  const results = await shell.pipeline(
    [
      tool('ag-fetch', [
        'plan', '--kubernetes-version', CLUSTER.kubernetesVersion, '--arch', CLUSTER.arch, '--os', CLUSTER.os, '--cni', CLUSTER.cni,
        '--chart', CLUSTER.chart, '--image', CLUSTER.appImage, '--file', `${NODE_TARBALL_URL}#sha256=${nodeSha256}`,
        '--mirror-base', upstream.files.url, '--dir', 'bundle',
      ]),
      tool('ag-fetch', ['download', '--no-os-packages']),
      tool('ag-images', ['pull', '--mirror', upstream.registry.host, '--ca-file', upstream.registry.caFile]),
      tool('ag-bundle', ['pack', '--out', 'out/bundle.tar', '--sign-key', 'keys/ag-bundle.pem', '--tools', 'tools']),
    ],
    'out/packed.json',
  );
  for (const [index, name] of ['ag-fetch plan', 'ag-fetch download', 'ag-images pull', 'ag-bundle pack'].entries()) stages.record('connected', name, results[index]!.ms);

  const bundleFile = join(shell.cwd, 'out', 'bundle.tar');
  const document = JSON.parse(await readFile(join(shell.cwd, 'out', 'packed.json'), 'utf8')) as AgDocument;
  return { bundleFile, bundleBytes: (await stat(bundleFile)).size, publicKey: join(shell.cwd, 'keys', 'ag-bundle.pub.pem'), document };
}
