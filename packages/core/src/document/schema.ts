import { Type, type Static } from '@sinclair/typebox';
import { BundleSection, ScanSection } from './bundle.js';
import { ClusterSpec } from './cluster.js';
import { FetchSection } from './fetch.js';
import { FlannelSection } from './flannel.js';
import { ImagesSection } from './images.js';
import { KubeadmSection } from './kubeadm.js';
import { NodeprepSection } from './nodeprep.js';
import { PackagesSection } from './packages.js';
import { RegistrySection } from './registry.js';

import { API_VERSION, KIND } from './new-document.js';

export { API_VERSION, KIND, newDocument, READABLE_API_VERSIONS } from './new-document.js';

/**
 * The pipeline document: the single source of truth for both the TypeScript
 * types (`Static<>`) and the JSON Schema committed at
 * docs/schema/ag-document.schema.json (`npm run schema` rewrites it; a test
 * fails when it is stale).
 *
 * Each stage owns one section and passes every other field through untouched,
 * unknown ones included (objects allow additional properties).
 */
export const DocumentSchema = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(KIND),
    root: Type.Optional(
      Type.String({
        pattern: '^/',
        description:
          'the bundle root on the side that last handled the document; every relative path in the document is relative to it',
      }),
    ),
    cluster: Type.Optional(ClusterSpec),
    fetch: Type.Optional(FetchSection),
    packages: Type.Optional(PackagesSection),
    images: Type.Optional(ImagesSection),
    scan: Type.Optional(ScanSection),
    bundle: Type.Optional(BundleSection),
    registry: Type.Optional(RegistrySection),
    nodeprep: Type.Optional(NodeprepSection),
    kubeadm: Type.Optional(KubeadmSection),
    flannel: Type.Optional(FlannelSection),
  },
  {
    $id: 'https://ag.invalid/schema/ag-document.schema.json',
    title: 'ag pipeline document',
    description: 'One JSON object that flows through the ag stages; each stage adds its own section.',
  },
);

export type AgDocument = Static<typeof DocumentSchema>;

/** The JSON Schema as committed (TypeBox's internal symbols dropped). */
export function documentJsonSchema(): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...DocumentSchema })) as Record<
    string,
    unknown
  >;
}

/** Where the generated schema is committed, relative to the repository root. */
export const SCHEMA_FILE = 'docs/schema/ag-document.schema.json';

/** The committed file's exact text. */
export function renderDocumentSchema(): string {
  return `${JSON.stringify(documentJsonSchema(), null, 2)}\n`;
}
