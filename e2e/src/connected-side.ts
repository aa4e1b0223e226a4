import { access, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { API_VERSION, SITE_KIND, type AgDocument, type SiteFile } from '@ag/core';
import type { Shell, Command } from './shell.js';
import type { Stages } from './stages.js';
import type { UpstreamInfo } from './upstream/info.js';

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** The cluster the run carries: the classic v1.27.3 procedure with flannel and podinfo, for this machine's OS (the far node is this Debian 12 host). */
export const CLUSTER = {
  kubernetesVersion: 'v1.27.3',
  arch: 'amd64',
  os: 'debian-12',
  cni: 'flannel@v0.22.0',
  chart: 'https://stefanprodan.github.io/podinfo/podinfo@6.4.0',
  appImage: 'ghcr.io/stefanprodan/podinfo:6.4.0',
} as const;

/** The site file the demo plans from (docs/site.md): the cluster described once; the connected side's mirrors stay flags. */
export const SITE_FILE = 'site.yaml';

export function demoSite(): SiteFile {
  const [repo, chart] = [CLUSTER.chart.slice(0, CLUSTER.chart.lastIndexOf('/')), CLUSTER.chart.slice(CLUSTER.chart.lastIndexOf('/') + 1)];
  const [name, version] = chart.split('@') as [string, string];
  return {
    apiVersion: API_VERSION,
    kind: SITE_KIND,
    metadata: { name: 'demo', description: 'the classic v1.27.3 cluster with flannel and podinfo, on this Debian 12 machine' },
    spec: {
      kubernetes: { version: CLUSTER.kubernetesVersion },
      architectures: [CLUSTER.arch],
      os: { name: CLUSTER.os },
      cni: { name: 'flannel', version: CLUSTER.cni.split('@')[1]! },
      charts: [{ repo, name, version }],
      images: [CLUSTER.appImage],
    },
  };
}

/** One trip: which release, into which bundle root, packed where, and against which inventory of the far side. */
export interface Trip {
  kubernetesVersion: string;
  /** The bundle root (relative to the connected side's directory). */
  dir: string;
  /** The bundle file to write (relative), e.g. out/bundle.tar. */
  out: string;
  /** `ag-bundle inventory` of the far side (relative): pack only what it lacks. */
  have?: string;
}

export const FIRST_TRIP: Trip = { kubernetesVersion: CLUSTER.kubernetesVersion, dir: 'bundle', out: 'out/bundle.tar' };

export interface ConnectedResult {
  /** The bundle file, on the connected side. */
  bundleFile: string;
  bundleBytes: number;
  /** The signing key's public half: the far side's trust anchor, carried once beforehand. */
  publicKey: string;
  /** The document ag-bundle pack wrote. */
  document: AgDocument;
}

/**
 * The connected side, as an operator types it (tools run with node from the
 * build the run made; `ag-X` in the transcript):
 *
 *   ag-bundle keygen --out keys/ag-bundle.pem
 *   ag-fetch plan --site site.yaml … | ag-fetch download --no-os-packages | ag-images pull … | ag-bundle pack … > out/bundle.tar.json
 *
 * and, for the next trip, the same against the far side's inventory
 * (`ag-bundle pack --have`) with the release given as a flag, which
 * overrides the site file's.
 *
 * The stand-in upstream lives at loopback addresses inside the connected
 * namespace, so the stages reach it through their mirror options:
 * `--mirror URL` (ag-fetch: https://HOST/PATH from URL/HOST/PATH) and
 * `--mirror HOST:PORT` with `--ca-file` (ag-images: every upstream registry
 * as HOST:PORT/<upstream host>/<path>, with the credentials of
 * REGISTRY_AUTH_FILE). Every reference keeps its upstream name. OS packages
 * are left out (`--no-os-packages`): resolving them needs Debian's archive,
 * which issue 7's own test covers.
 */
export async function runConnectedSide(shell: Shell, stages: Stages, upstream: UpstreamInfo, trip: Trip = FIRST_TRIP): Promise<ConnectedResult> {
  const tool = (name: string, args: string[], extra: Partial<Command> = {}): Command => ({
    argv: [process.execPath, `tools/${name}.mjs`, ...args],
    display: [name, ...args].join(' '),
    ...extra,
  });
  await mkdir(dirname(join(shell.cwd, trip.out)), { recursive: true });
  await mkdir(join(shell.cwd, 'keys'), { recursive: true });
  const publicKey = join(shell.cwd, 'keys', 'ag-bundle.pub.pem');
  if (!(await exists(publicKey))) {
    await stages.run('connected', 'ag-bundle keygen (once per site)', () => shell.run(tool('ag-bundle', ['keygen', '--out', 'keys/ag-bundle.pem'], { stdout: 'keys/keygen.json' })));
  }

  await writeFile(join(shell.cwd, SITE_FILE), stringify(demoSite()));
  const release = trip.kubernetesVersion === CLUSTER.kubernetesVersion ? [] : ['--kubernetes-version', trip.kubernetesVersion];
  const suffix = trip.have === undefined ? '' : ' (delta)';
  stages.reporter.stage('connected', `plan | download | pull | pack: ${trip.kubernetesVersion}${suffix}`);
  const results = await shell.pipeline(
    [
      tool('ag-fetch', ['plan', '--site', SITE_FILE, ...release, '--mirror', upstream.files.url, '--dir', trip.dir]),
      tool('ag-fetch', ['download', '--no-os-packages']),
      tool('ag-images', ['pull', '--mirror', upstream.registry.host, '--ca-file', upstream.registry.caFile]),
      tool('ag-bundle', ['pack', '--out', trip.out, '--sign-key', 'keys/ag-bundle.pem', '--tools', 'tools', ...(trip.have === undefined ? [] : ['--have', trip.have])]),
    ],
    `${trip.out}.json`,
  );
  for (const [index, name] of ['ag-fetch plan', 'ag-fetch download', 'ag-images pull', 'ag-bundle pack'].entries()) stages.record('connected', `${name}${suffix}`, results[index]!.ms);

  const bundleFile = join(shell.cwd, trip.out);
  const document = JSON.parse(await readFile(`${bundleFile}.json`, 'utf8')) as AgDocument;
  return { bundleFile, bundleBytes: (await stat(bundleFile)).size, publicKey, document };
}
