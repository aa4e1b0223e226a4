import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { createTestIo } from '@ag/core/testing';
import { API_VERSION, type AgDocument, type StoredImage } from '@ag/core';
import { main } from '../cli.js';

/**
 * Test support: a bundle as ag-fetch download leaves it (the upstream
 * manifest under files/) and the document naming its images, pulled into an
 * OCI layout under images/ by the caller (render checks digests there) or,
 * for tests where the layout plays no part, named with digests that no layout holds.
 */
export interface TestBundle {
  root: string;
  stored: StoredImage[];
  document(podSubnet?: string): AgDocument;
  /** `ag-flannel render ARGV` in-process on the document. */
  render(argv: string[], document?: AgDocument): Promise<{ code: number; out?: AgDocument; err: string }>;
}

export const FIXTURE_MANIFEST = new URL('../testdata/kube-flannel.yml', import.meta.url);

export const UPSTREAM_IMAGES = ['docker.io/flannel/flannel-cni-plugin:v1.1.2', 'docker.io/flannel/flannel:v0.22.0'];

/** A bundle directory with the manifest; `images` fills images/ and returns what it stored (default: nothing stored, made-up digests). */
export async function createTestBundle(images?: (layoutDir: string) => Promise<StoredImage[]>): Promise<TestBundle> {
  const root = await mkdtemp(join(tmpdir(), 'ag-flannel-bundle-'));
  await mkdir(join(root, 'files'), { recursive: true });
  await copyFile(FIXTURE_MANIFEST, join(root, 'files/kube-flannel.yml'));
  const stored: StoredImage[] = images
    ? await images(join(root, 'images'))
    : UPSTREAM_IMAGES.map((ref) => {
        const digest = `sha256:${createHash('sha256').update(ref).digest('hex')}`;
        return { ref, digest, mediaType: 'application/vnd.oci.image.index.v1+json', upstreamDigest: digest, partial: false, manifests: [] };
      });
  const document = (podSubnet = '10.32.0.0/12'): AgDocument => ({
    apiVersion: API_VERSION,
    kind: 'Cluster',
    root,
    cluster: {
      kubernetesVersion: 'v1.27.3',
      architectures: ['amd64', 'arm64'],
      os: 'debian-12',
      cni: { name: 'flannel', version: 'v0.22.0' },
      podSubnet,
      serviceSubnet: '10.96.0.0/12',
      dnsDomain: 'cluster.local',
    },
    fetch: {
      components: { flannel: 'v0.22.0' },
      imageList: { source: 'table', detail: 'test' },
      files: [
        {
          name: 'kube-flannel.yml',
          kind: 'manifest',
          version: 'v0.22.0',
          source: { url: 'https://github.com/flannel-io/flannel/releases/download/v0.22.0/kube-flannel.yml' },
          path: 'files/kube-flannel.yml',
        },
      ],
      images: [],
    },
    images: { layout: 'images', platforms: ['linux/amd64', 'linux/arm64'], images: stored },
  });
  return {
    root,
    stored,
    document,
    async render(argv, doc = document()) {
      const io = createTestIo({ stdin: JSON.stringify(doc) });
      const code = await main(['render', ...argv], io);
      return { code, out: io.stdoutText() ? (JSON.parse(io.stdoutText()) as AgDocument) : undefined, err: io.stderrText() };
    },
  };
}

type Obj = Record<string, unknown>;
export const objects = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj);

/** Every container of every workload, wherever its pod spec is. */
export function containers(docs: Obj[]): Obj[] {
  return docs.flatMap((d) => {
    const spec = ((d['spec'] as Obj | undefined)?.['template'] as Obj | undefined)?.['spec'] as Obj | undefined;
    return [...((spec?.['initContainers'] as Obj[] | undefined) ?? []), ...((spec?.['containers'] as Obj[] | undefined) ?? [])];
  });
}
