/**
 * ag-images against skopeo on one generated kubeadm-like image set (11
 * images, one platform, shared base layers; about 300 MB by default) served
 * by a local distribution registry over TLS, in one run:
 *
 *   pull         ag-images pull (one process, all images)   vs  skopeo copy --all docker:// -> oci: (one per image, into one layout)
 *   pull again   the same, with everything already there    vs  the same
 *   push         ag-images push to a fresh registry         vs  skopeo copy --all oci: -> docker:// (one per image)
 *   push again   the same, with everything already there    vs  the same
 *
 * Wall time and peak memory (VmHWM, polled from /proc) of each; ratios are
 * against skopeo measured in the same run. Also the layout's size against the
 * sum of per-image archives (what `docker save` per image carries). Not part
 * of `npm test`.
 *
 *   npm run bench:images [-- --unique 24M] [-- --shared 48M] [-- --dir /var/tmp] [-- --json] [-- --keep]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OciLayout, walkImages } from '@ag/core';
import { createTestCa, generatedLayout, startRegistry, writeKubeadmLikeSet, type RegistryFixture } from '@ag/fixtures';
import { measure, parseBenchSize, type Measurement } from './bundle.js';
import { REPO_ROOT, runWhenScript } from './workspace.js';

const AG_IMAGES = join(REPO_ROOT, 'packages', 'ag-images', 'bin', 'ag-images.mjs');
const MAX_UNIQUE = 512 * 1024 ** 2;

export interface ImagesBenchRow {
  step: string;
  ag: Measurement;
  skopeo: Measurement;
}

export interface ImagesBenchResult {
  images: number;
  /** Unique bytes of the set (each blob once). */
  uniqueBytes: number;
  /** The largest layer. */
  largestLayer: number;
  rows: ImagesBenchRow[];
  /** Bytes under blobs/ of ag's layout, and the sum over images of what each image alone holds. */
  layoutBytes: number;
  perImageArchiveBytes: number;
}

function sum(list: Measurement[]): Measurement {
  return { wallMs: list.reduce((t, m) => t + m.wallMs, 0), peakKiB: Math.max(0, ...list.map((m) => m.peakKiB)) };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/** Runs skopeo once per image (what a script does), summing wall time, keeping the largest peak. */
async function skopeoEach(refs: string[], args: (ref: string) => string[]): Promise<Measurement> {
  const runs: Measurement[] = [];
  for (const ref of refs) runs.push(await measure('skopeo', args(ref)));
  return sum(runs);
}

export async function runImagesBench(options: { unique: number; shared: number; dir: string; log: (line: string) => void }): Promise<ImagesBenchResult> {
  const { dir, log } = options;
  const ca = await createTestCa(join(dir, 'ca'));
  log(`generating the image set (${(options.unique / 1024 ** 2).toFixed(0)} MiB unique per image, ${(options.shared / 1024 ** 2).toFixed(0)} MiB shared base)`);
  const generated = join(dir, 'generated');
  const images = await writeKubeadmLikeSet(await generatedLayout(generated), {
    uniqueBytes: options.unique,
    sharedBytes: options.shared,
    platforms: [{ os: 'linux', architecture: 'amd64' }],
  });
  const refs = images.map((i) => i.ref);
  const graph = await walkImages(await OciLayout.open(generated), images.map((i) => i.descriptor));
  const uniqueBytes = [...graph.descriptors.values()].reduce((t, d) => t + d.size, 0);
  const largestLayer = Math.max(...[...graph.descriptors.values()].map((d) => d.size));
  let perImageArchiveBytes = 0;
  for (const image of images) {
    const own = await walkImages(await OciLayout.open(generated), [image.descriptor]);
    perImageArchiveBytes += [...own.descriptors.values()].reduce((t, d) => t + d.size, 0);
  }

  const registries: RegistryFixture[] = [];
  try {
    const [upstream, agTarget, skopeoTarget] = await Promise.all([startRegistry({ ca }), startRegistry({ ca }), startRegistry({ ca })]);
    registries.push(upstream, agTarget, skopeoTarget);
    log(`seeding ${refs.length} images (${(uniqueBytes / 1024 ** 2).toFixed(0)} MiB) into ${upstream.host} with skopeo`);
    for (const ref of refs) await upstream.seed(generated, ref);
    const tls = (side: 'src' | 'dest'): string[] => [`--${side}-cert-dir`, upstream.certDir];
    const agLayout = join(dir, 'ag', 'images');
    const skopeoLayout = join(dir, 'skopeo', 'images');
    await mkdir(skopeoLayout, { recursive: true });
    const agPull = (): Promise<Measurement> =>
      measure(process.execPath, [AG_IMAGES, 'pull', ...refs, '--layout', agLayout, '--mirror', upstream.host, '--ca-file', upstream.caFile, '--platform', 'linux/amd64', '--quiet']);
    const skopeoPull = (): Promise<Measurement> =>
      skopeoEach(refs, (ref) => ['copy', '--all', '--insecure-policy', ...tls('src'), `docker://${upstream.host}/${ref}`, `oci:${skopeoLayout}:${ref}`]);
    const agPush = (): Promise<Measurement> =>
      measure(process.execPath, [AG_IMAGES, 'push', '--layout', agLayout, '--registry', agTarget.host, '--ca-file', agTarget.caFile, '--quiet']);
    // skopeo pushes from its own layout: its oci: transport cannot read the Docker-typed entries of ag's.
    const skopeoPush = (): Promise<Measurement> =>
      skopeoEach(refs, (ref) => ['copy', '--all', '--insecure-policy', ...tls('dest'), `oci:${skopeoLayout}:${ref}`, `docker://${skopeoTarget.host}/${ref}`]);

    const rows: ImagesBenchRow[] = [];
    log('pull: ag-images, then skopeo');
    rows.push({ step: 'pull', ag: await agPull(), skopeo: await skopeoPull() });
    log('pull again (nothing to do)');
    rows.push({ step: 'pull again', ag: await agPull(), skopeo: await skopeoPull() });
    log('push: ag-images, then skopeo');
    rows.push({ step: 'push', ag: await agPush(), skopeo: await skopeoPush() });
    log('push again (nothing to do)');
    rows.push({ step: 'push again', ag: await agPush(), skopeo: await skopeoPush() });
    const layoutBytes = await dirBytes(join(agLayout, 'blobs', 'sha256'));
    return { images: refs.length, uniqueBytes, largestLayer, rows, layoutBytes, perImageArchiveBytes };
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatImagesBench(result: ImagesBenchResult): string {
  const lines = [
    `${result.images} images, ${mib(result.uniqueBytes)} unique, largest layer ${mib(result.largestLayer)}`,
    '',
    '| step | ag-images | skopeo | time ag/skopeo | peak memory ag | peak memory skopeo |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...result.rows.map(
      (r) =>
        `| ${r.step} | ${(r.ag.wallMs / 1000).toFixed(2)} s | ${(r.skopeo.wallMs / 1000).toFixed(2)} s | ${(r.ag.wallMs / r.skopeo.wallMs).toFixed(2)} | ${(r.ag.peakKiB / 1024).toFixed(0)} MiB | ${(r.skopeo.peakKiB / 1024).toFixed(0)} MiB |`,
    ),
    '',
    `layout ${mib(result.layoutBytes)} vs ${mib(result.perImageArchiveBytes)} in per-image archives (${((result.layoutBytes / result.perImageArchiveBytes) * 100).toFixed(0)}%)`,
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      unique: { type: 'string', default: '20M' },
      shared: { type: 'string', default: '48M' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const unique = parseBenchSize(values.unique);
  const shared = parseBenchSize(values.shared);
  if (unique > MAX_UNIQUE || shared > MAX_UNIQUE) throw new Error(`--unique and --shared are at most ${MAX_UNIQUE / 1024 ** 2}M`);
  process.stderr.write('building ag-images\n');
  spawnSync(process.execPath, [join(REPO_ROOT, 'tools', 'build', 'bundle-bins.mjs'), 'ag-images'], { stdio: 'inherit' });
  if (!existsSync(join(REPO_ROOT, 'packages', 'ag-images', 'dist', 'ag-images.mjs'))) throw new Error('ag-images did not build');
  const base = values.dir ?? tmpdir();
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, 'ag-bench-images-'));
  try {
    const result = await runImagesBench({ unique, shared, dir, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatImagesBench(result)}\n`);
    return 0;
  } finally {
    if (values.keep) process.stderr.write(`kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

runWhenScript(import.meta.url, main);
