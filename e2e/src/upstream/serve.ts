/**
 * The connected side's upstream, run inside the connected namespace
 * (`ip netns exec <conn> node --import tsx serve.ts --dir DIR --ready FILE`):
 * a file server laid out like dl.k8s.io, GitHub releases, get.helm.sh,
 * raw.githubusercontent.com and the podinfo chart repository
 * (stand-in files with their checksum files), and a distribution registry
 * with TLS and token auth seeded with the generated v1.27.3 image set
 * (every upstream host under its own name as the first path component);
 * with `--next-version`, also the files and control-plane images of that
 * next patch release.
 * Everything listens on the namespace's own loopback. When ready it writes
 * FILE (an UpstreamInfo, JSON) and runs until SIGTERM.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '@ag/core';
import { generatedLayout, populateUpstream, startFileServer, startTestUpstream, writeKubeadmLikeSet } from '@ag/fixtures';
import type { UpstreamInfo } from './info.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, ready: { type: 'string' }, 'unique-bytes': { type: 'string' }, 'next-version': { type: 'string' } },
  });
  if (values.dir === undefined || values.ready === undefined) throw new Error('usage: serve.ts --dir DIR --ready FILE');
  const started = Date.now();
  const tree = await populateUpstream(join(values.dir, 'files'));
  const files = await startFileServer({ root: tree.root });
  const uniqueBytes = Number(values['unique-bytes'] ?? 192 * 1024);
  const registry = await startTestUpstream({ auth: 'token', uniqueBytes, sharedBytes: uniqueBytes });
  const next = values['next-version'];
  const nextImages: string[] = [];
  if (next !== undefined) {
    // The next patch release beside the first: its files under dl.k8s.io/release/<next>/ (the rest is
    // the same bytes), and its control-plane images; the images it shares with the first keep their digests.
    await populateUpstream(tree.root, { kubernetesVersion: next });
    const images = await writeKubeadmLikeSet(await generatedLayout(registry.generated), { kubernetesVersion: next, uniqueBytes, sharedBytes: uniqueBytes });
    for (const image of images.filter((i) => i.ref.endsWith(`:${next}`))) {
      await registry.registry.seed(registry.generated, image.ref);
      nextImages.push(image.ref);
    }
  }
  const info: UpstreamInfo = {
    files: { url: files.url, root: tree.root },
    registry: { host: registry.registry.host, caFile: registry.registry.caFile, env: registry.env },
    images: registry.images.map((i) => i.ref),
    ...(next === undefined ? {} : { next: { kubernetesVersion: next, images: nextImages } }),
    pid: process.pid,
    startMs: Date.now() - started,
  };
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([files.close(), registry.stop()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // The test that started us may die without a word: stop with it.
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
  await writeFileAtomic(values.ready, JSON.stringify(info));
}

main().catch((error: unknown) => {
  process.stderr.write(`upstream: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
