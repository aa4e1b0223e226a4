/**
 * Helpers for ag-bundle's tests (not part of the tool): small file trees,
 * running the command line in-process, finding and damaging archive entries.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { API_VERSION, type AgDocument, type FileArtifact, type StoredImage } from '@ag/core';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createTestIo } from '@ag/core/testing';
import { main } from './cli.js';
import { TarReader } from './tar/reader.js';

export async function tempDir(prefix = 'ag-bundle-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Writes files (path -> content) under `root`. */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Every file under `dir`, relative, sorted; undefined when `dir` does not exist. */
export async function listTree(dir: string): Promise<string[] | undefined> {
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) return undefined;
  const out: string[] = [];
  const visit = async (at: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) await visit(join(at, entry.name), path);
      else out.push(path);
    }
  };
  await visit(dir, '');
  return out.sort();
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is. */
  json: Record<string, unknown> | undefined;
}

/** Runs `ag-bundle ...args` in-process. */
export async function run(args: string[], options: { stdin?: string; cwd?: string } = {}): Promise<RunResult> {
  const io = createTestIo({ stdin: options.stdin ?? '', ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
  const code = await main(args, io);
  const stdout = io.stdoutText();
  let json: Record<string, unknown> | undefined;
  try {
    json = stdout.trim() === '' ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr: io.stderrText(), json };
}

/** Where each entry's data starts in an archive, by path. */
export async function entryOffsets(archive: string): Promise<Map<string, { offset: number; size: number }>> {
  const reader = new TarReader(createReadStream(archive) as AsyncIterable<Buffer>);
  const found = new Map<string, { offset: number; size: number }>();
  for (let entry = await reader.next(); entry !== undefined; entry = await reader.next()) found.set(entry.path, { offset: entry.dataOffset, size: entry.size });
  return found;
}

/** Flips the bits of one byte of a file. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

/** Flips one byte in the middle of an archive entry's data. */
export async function flipEntryByte(archive: string, entryPath: string): Promise<void> {
  const entry = (await entryOffsets(archive)).get(entryPath);
  if (entry === undefined || entry.size === 0) throw new Error(`no entry ${entryPath} with data in ${archive}`);
  await flipByte(archive, entry.offset + Math.floor(entry.size / 2));
}

/** The repository (tsx resolves from here). */
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Quotes a word for sh. */
export function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `ag-bundle` as a shell command: the sources, run by node through tsx, as a real process. */
export const AG_BUNDLE = `node --import tsx ${shellWord(join(REPO, 'packages/ag-bundle/src/bin.ts'))}`;

/** Runs a shell script (pipes and all) from the repository; never rejects. */
export async function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await execa('sh', ['-c', script], { cwd: REPO, reject: false, stdin: 'ignore' });
  return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/**
 * A digest of everything about a tree that a writer could change: every
 * entry's type, mode, size, mtime and path (find), every file's sha256
 * (sha256sum). Equal before and after means nothing under `dir` was touched.
 */
export async function treeHash(dir: string): Promise<string> {
  const script = [
    "find . -printf '%y %m %s %T@ %p\\n' | LC_ALL=C sort",
    'find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum',
  ].join('; ');
  const { stdout } = await execa('sh', ['-c', `(${script}) | sha256sum`], { cwd: dir });
  return stdout.split(' ')[0]!;
}

export interface Descriptor {
  digest: string;
  mediaType: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

/** The images section ag-images pull would write for the layout (every image is an index here). */
export async function imagesSectionOf(layout: string): Promise<StoredImage[]> {
  const blob = async (digest: string): Promise<{ manifests?: Descriptor[]; layers?: Descriptor[] }> =>
    JSON.parse(await readFile(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { manifests?: Descriptor[] };
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const images: StoredImage[] = [];
  for (const entry of index.manifests) {
    const ref = entry.annotations?.['io.containerd.image.name'] ?? entry.annotations?.['org.opencontainers.image.ref.name'];
    if (ref === undefined) continue;
    const manifests = ((await blob(entry.digest)).manifests ?? []).map((m) => ({
      platform: [m.platform!.os, m.platform!.architecture, m.platform!.variant].filter(Boolean).join('/'),
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.size,
    }));
    images.push({ ref, digest: entry.digest, mediaType: entry.mediaType, upstreamDigest: entry.digest, partial: false, manifests });
  }
  return images;
}

export const KUBEADM_URL = 'https://dl.k8s.io/release/v1.27.3/bin/linux/amd64/kubeadm';

/** A document as ag-fetch download and ag-images pull leave it: kubeadm (its bytes given) under files/, `extra` other files, and the images of the root's layout. */
export async function fetchedDocument(root: string, kubeadm: Buffer, extra: FileArtifact[] = []): Promise<AgDocument> {
  const images = await imagesSectionOf(join(root, 'images'));
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    root,
    fetch: {
      components: { kubernetes: 'v1.27.3' },
      imageList: { source: 'table', detail: 'test' },
      files: [
        {
          name: 'kubeadm',
          kind: 'binary',
          arch: 'amd64',
          version: 'v1.27.3',
          source: { url: KUBEADM_URL },
          sha256: createHash('sha256').update(kubeadm).digest('hex'),
          sha256From: 'upstream',
          size: kubeadm.length,
          path: 'files/kubeadm',
        },
        ...extra,
      ],
      images: [],
    },
    images: { layout: 'images', platforms: [...new Set(images.flatMap((image) => image.manifests.map((manifest) => manifest.platform)))].sort(), images },
  };
}
