/**
 * ag-bundle against the coreutils it must keep pace with, on one generated
 * multi-GB bundle root, in one run:
 *
 *   pack    vs  tar -cf                (and sha256sum + tar -cf, which also yields checksums)
 *   verify  vs  sha256sum -c
 *   unpack  vs  tar -xf, then sha256sum -c (and tar -xf alone, which checks nothing)
 *
 * Wall time and peak memory (GNU time, measure.ts) of each; ratios are
 * against the peer measured in the same run. Bounded: 2 GiB by default,
 * at most 64 GiB. Not part of `npm test`.
 *
 *   npm run bench:bundle [-- --size 2G] [-- --dir /var/tmp] [-- --runs 1] [-- --json] [-- --keep]
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measure, measureEach, type Measurement } from './measure.js';
import { REPO_ROOT, runWhenScript } from './workspace.js';

const AG_BUNDLE = join(REPO_ROOT, 'packages', 'ag-bundle', 'bin', 'ag-bundle.cjs');
const MAX_SIZE = 64 * 1024 ** 3;

/** Reads a size like 2G, 500M (1024-based), or bytes. */
export function parseBenchSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text.trim());
  if (match === null) throw new Error(`--size ${text}: write it like 2G or 500M`);
  const power = ' KMGT'.indexOf((match[2] || ' ').toUpperCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

/** Incompressible bytes, fast: AES-CTR over zeros (layers and binaries do not compress either). */
async function writeRandom(path: string, size: number): Promise<string> {
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  const hash = createHash('sha256');
  const out = createWriteStream(path, { highWaterMark: 8 << 20 });
  const zeros = Buffer.alloc(4 << 20);
  for (let left = size; left > 0; ) {
    const chunk = cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
    left -= chunk.length;
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
  return hash.digest('hex');
}

async function writeBlob(blobs: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(blobs, hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/**
 * A bundle root of about `size` bytes: an OCI layout of eight images that
 * share a base layer (about 70%), a few large files (about 25%) and many
 * small packages (about 5%).
 */
export async function generateRoot(root: string, size: number): Promise<{ files: number; bytes: number; fetched: FetchedFile[] }> {
  const blobs = join(root, 'images', 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  await mkdir(join(root, 'files'), { recursive: true });
  await mkdir(join(root, 'packages'), { recursive: true });
  let files = 0;
  let bytes = 0;
  const fetched: FetchedFile[] = [];
  const layer = async (layerSize: number): Promise<{ mediaType: string; digest: string; size: number }> => {
    const temp = join(blobs, `.layer-${files}`);
    const hex = await writeRandom(temp, layerSize);
    await rename(temp, join(blobs, hex));
    files += 1;
    bytes += layerSize;
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${hex}`, size: layerSize };
  };
  const imageBytes = Math.floor(size * 0.7);
  const base = await layer(Math.floor(imageBytes * 0.2));
  const manifests = [];
  for (let i = 0; i < 8; i += 1) {
    const own = [await layer(Math.floor((imageBytes * 0.8) / 8 / 3)), await layer(Math.floor(((imageBytes * 0.8) / 8) * (2 / 3)))];
    const config = await writeBlob(blobs, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, i })));
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [base, ...own] }),
    );
    const stored = await writeBlob(blobs, manifest);
    files += 2;
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...stored, annotations: { 'org.opencontainers.image.ref.name': `bench.invalid/image-${i}:v1` } });
  }
  await writeFile(join(root, 'images', 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(root, 'images', 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const fileBytes = Math.floor(size * 0.25);
  const add = async (path: string, fileSize: number): Promise<void> => {
    const sha256 = await writeRandom(join(root, path), fileSize);
    fetched.push({ name: path.split('/').pop()!, kind: 'file', source: { url: `https://bench.invalid/${path}` }, path, sha256, size: fileSize });
    files += 1;
    bytes += fileSize;
  };
  for (let i = 0; i < 6; i += 1) await add(`files/binary-${i}`, Math.floor(fileBytes / 6));
  const small = Math.max(1, Math.floor((size * 0.05) / (256 * 1024)));
  for (let i = 0; i < small; i += 1) await add(`packages/package-${i}.deb`, 256 * 1024);
  return { files, bytes, fetched };
}

/** A file as ag-fetch download records it (the document's `fetch.files`). */
export interface FetchedFile {
  name: string;
  kind: 'file';
  source: { url: string };
  path: string;
  sha256: string;
  size: number;
}

/**
 * The document pack reads in a real pipeline: ag-fetch download has already
 * verified every file and recorded its sha256, so pack hashes each byte once
 * while streaming it (checking it) instead of reading files twice.
 */
function benchDocument(root: string, fetched: FetchedFile[]): string {
  return JSON.stringify({
    apiVersion: 'ag/v1alpha1',
    kind: 'Cluster',
    root,
    fetch: { components: {}, imageList: { source: 'table', detail: 'bench' }, files: fetched, images: [] },
  });
}

function settle(): void {
  // Dirty pages of one step must not be written back on the next one's time.
  spawnSync('sync');
}

export interface BundleBenchRow {
  step: string;
  ag: Measurement;
  peer: Measurement;
  peerName: string;
  /** ag's wall time over the peer's. */
  ratio: number;
}

async function best(runs: number, once_: () => Promise<Measurement>, before?: () => Promise<void>): Promise<Measurement> {
  let result: Measurement | undefined;
  for (let i = 0; i < runs; i += 1) {
    await before?.();
    settle();
    const one = await once_();
    result = result === undefined || one.wallMs < result.wallMs ? one : result;
  }
  return result!;
}

export async function runBundleBench(options: { size: number; dir: string; runs: number; log: (line: string) => void }): Promise<BundleBenchRow[]> {
  const { dir, runs, log } = options;
  const root = join(dir, 'root');
  log(`generating a ${(options.size / 1024 ** 3).toFixed(2)} GiB bundle root in ${root}`);
  const generated = await generateRoot(root, options.size);
  log(`${generated.files} files, ${generated.bytes} bytes`);
  const documentPath = join(dir, 'fetched.json');
  await writeFile(documentPath, benchDocument(root, generated.fetched));
  const ag = (...args: string[]): [string, string[]] => [process.execPath, [AG_BUNDLE, ...args]];
  const rows: BundleBenchRow[] = [];
  const add = (step: string, peerName: string, agM: Measurement, peer: Measurement): void => {
    rows.push({ step, ag: agM, peer, peerName, ratio: agM.wallMs / peer.wallMs });
    log(`${step}: ag-bundle ${(agM.wallMs / 1000).toFixed(2)} s, ${peerName} ${(peer.wallMs / 1000).toFixed(2)} s`);
  };
  const clear = (...paths: string[]) => async (): Promise<void> => {
    for (const path of paths) await rm(path, { recursive: true, force: true });
  };

  const agTar = join(dir, 'ag.tar');
  const plainTar = join(dir, 'plain.tar');
  const sumsFirst = join(dir, 'sums-first.tar');
  const peerPack = await best(runs, () => measure('tar', ['-cf', plainTar, '-C', root, '.']), clear(plainTar));
  // Signed, as every bundle for the far side is (one signature over SHA256SUMS: nothing next to hashing the bytes).
  const key = join(dir, 'key.pem');
  await measure(...ag('keygen', '--out', key, '--force', '--quiet'));
  const agPack = await best(runs, () => measure(...ag('pack', '--out', agTar, '--sign-key', key, '--no-tools', '--quiet'), REPO_ROOT, documentPath), clear(agTar));
  add('pack', 'tar -cf', agPack, peerPack);
  const pairPack = await best(
    runs,
    () =>
      measureEach([
        ['sh', ['-c', 'find . -type f -print0 | sort -z | xargs -0 sha256sum > ../SUMS'], root],
        ['tar', ['-cf', sumsFirst, '-C', root, '.']],
      ]),
    clear(sumsFirst),
  );
  add('pack', 'sha256sum + tar -cf', agPack, pairPack);

  const agVerify = await best(runs, () => measure(...ag('verify', agTar, '--key', join(dir, 'key.pub.pem'), '--quiet')));
  // pack leaves the root as it was: the checksums to check it against are the ones the peer pack wrote.
  const peerVerify = await best(runs, () => measure('sha256sum', ['--quiet', '-c', join(dir, 'SUMS')], root));
  add('verify', 'sha256sum -c', agVerify, peerVerify);

  const agOut = join(dir, 'unpacked-ag');
  const peerOut = join(dir, 'unpacked-tar');
  const agUnpack = await best(runs, () => measure(...ag('unpack', agTar, '--dir', agOut, '--key', join(dir, 'key.pub.pem'), '--quiet')), clear(agOut));
  const peerUnpack = await best(
    runs,
    () =>
      measureEach([
        ['mkdir', [peerOut]],
        ['tar', ['-xf', agTar, '-C', peerOut]],
        ['sha256sum', ['--quiet', '-c', 'SHA256SUMS'], peerOut],
      ]),
    clear(peerOut),
  );
  add('unpack', 'tar -xf + sha256sum -c', agUnpack, peerUnpack);
  const tarOnly = await best(runs, () => measureEach([['mkdir', [peerOut]], ['tar', ['-xf', agTar, '-C', peerOut]]]), clear(peerOut));
  add('unpack', 'tar -xf (no check)', agUnpack, tarOnly);

  // Onto the directory that already holds it: the bundle is checked again in full, and the directory against its SHA256SUMS.
  await measure(...ag('unpack', agTar, '--dir', agOut, '--key', join(dir, 'key.pub.pem'), '--quiet'));
  const agAgain = await best(runs, () => measure(...ag('unpack', agTar, '--dir', agOut, '--key', join(dir, 'key.pub.pem'), '--quiet')));
  const dirOnly = await best(runs, () => measure('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], agOut));
  add('unpack again', 'sha256sum -c (DIR only)', agAgain, dirOnly);
  return rows;
}

export function formatBundleBench(rows: readonly BundleBenchRow[], size: number): string {
  const gib = size / 1024 ** 3;
  const lines = [
    `ag-bundle on a ${gib.toFixed(2)} GiB bundle (wall time, throughput, peak RSS; ratio = ag-bundle / peer, same run)`,
    '',
    `${'step'.padEnd(12)} ${'ag-bundle'.padStart(10)} ${'peer'.padEnd(24)} ${'peer time'.padStart(10)} ${'ratio'.padStart(6)} ${'ag MiB/s'.padStart(9)} ${'ag RSS'.padStart(8)} ${'peer RSS'.padStart(9)}`,
  ];
  for (const row of rows) {
    lines.push(
      `${row.step.padEnd(12)} ${`${(row.ag.wallMs / 1000).toFixed(2)} s`.padStart(10)} ${row.peerName.padEnd(24)} ${`${(row.peer.wallMs / 1000).toFixed(2)} s`.padStart(10)} ${`${row.ratio.toFixed(2)}x`.padStart(6)} ${(size / 1024 ** 2 / (row.ag.wallMs / 1000)).toFixed(0).padStart(9)} ${`${(row.ag.peakKiB / 1024).toFixed(0)} MiB`.padStart(8)} ${`${(row.peer.peakKiB / 1024).toFixed(0)} MiB`.padStart(9)}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '2G' },
      dir: { type: 'string' },
      runs: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const size = parseBenchSize(values.size);
  if (size > MAX_SIZE) throw new Error(`--size is at most ${MAX_SIZE / 1024 ** 3}G`);
  const runs = Math.max(1, Math.min(5, Number(values.runs)));
  if (!existsSync(join(REPO_ROOT, 'packages', 'ag-bundle', 'dist', 'ag-bundle.mjs'))) {
    process.stderr.write('building ag-bundle (npm run build)\n');
    spawnSync(process.execPath, [join(REPO_ROOT, 'tools', 'build', 'bundle-bins.mjs'), 'ag-bundle'], { stdio: 'inherit' });
  }
  const base = values.dir ?? tmpdir();
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, 'ag-bench-bundle-'));
  try {
    const rows = await runBundleBench({ size, dir, runs, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(values.json ? `${JSON.stringify({ size, runs, rows }, null, 2)}\n` : `${formatBundleBench(rows, size)}\n`);
    return 0;
  } finally {
    if (values.keep) process.stderr.write(`kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

runWhenScript(import.meta.url, main);
