import { Type, type Static } from '@sinclair/typebox';
import { CniOptions } from '../document/cluster.js';
import { Architecture, Sha256Hex } from '../document/common.js';
import { API_VERSION } from '../document/new-document.js';

/**
 * The site file: a cluster described once, in YAML, for `ag-fetch plan
 * --site site.yaml` (the way zarf.yaml, hauler's manifests and KubeKey's
 * cluster file describe theirs: apiVersion, kind, metadata, spec). Flags
 * given beside it override its fields. Strict: an unknown field is an error,
 * so a misspelt `podSubent` is caught rather than silently ignored.
 */

const strict = { additionalProperties: false } as const;

export const SITE_KIND = 'Site';

export const SiteSpec = Type.Object(
  {
    kubernetes: Type.Object(
      {
        version: Type.String({ description: 'a release (v1.27.3), a minor (1.35: its newest patch) or stable; --kubernetes-version overrides it', examples: ['v1.27.3', '1.35', 'stable'] }),
      },
      strict,
    ),
    architectures: Type.Optional(Type.Array(Architecture, { minItems: 1, description: 'node architectures (default [amd64]); --arch overrides them' })),
    os: Type.Object(
      {
        name: Type.String({ pattern: '^[a-z]+-[0-9.]+$', description: 'ID-VERSION of the nodes, e.g. debian-12, fedora-37; --os overrides it' }),
        packages: Type.Optional(
          Type.Object(
            {
              add: Type.Optional(Type.Array(Type.String(), { description: "extra OS packages for the nodes, by the OS's names (--package adds more)" })),
              remove: Type.Optional(Type.Array(Type.String(), { description: 'packages of the default set to leave out (--no-package adds more)' })),
            },
            strict,
          ),
        ),
        containerd: Type.Optional(
          Type.Union([Type.Literal('os'), Type.Literal('upstream')], {
            description: "where containerd and runc come from: the OS packages (os, the default) or their GitHub releases (upstream), for a Kubernetes newer than the OS's containerd runs; --containerd overrides it",
          }),
        ),
      },
      strict,
    ),
    cni: Type.Optional(
      Type.Object(
        {
          name: Type.Literal('flannel', { description: 'the CNI (ag plans flannel)' }),
          version: Type.Optional(Type.String({ description: "its release, e.g. v0.22.0 (default: the one for this Kubernetes minor); --cni overrides it" })),
          options: Type.Optional(Type.Object(CniOptions.properties, { ...strict, description: "the CNI's options, recorded in the document's cluster.cni.options for the stage that installs it" })),
        },
        strict,
      ),
    ),
    networks: Type.Optional(
      Type.Object(
        {
          podSubnet: Type.Optional(Type.String({ description: 'the pod network CIDR (default 10.244.0.0/16, flannel\'s)' })),
          serviceSubnet: Type.Optional(Type.String({ description: 'the service CIDR (default 10.96.0.0/12)' })),
          dnsDomain: Type.Optional(Type.String({ description: 'the cluster DNS domain (default cluster.local)' })),
        },
        strict,
      ),
    ),
    charts: Type.Optional(
      Type.Array(
        Type.Object(
          {
            repo: Type.String({ description: 'the chart repository URL (the one holding index.yaml)' }),
            name: Type.String(),
            version: Type.String(),
          },
          strict,
        ),
        { description: 'Helm charts to carry (--chart adds more)' },
      ),
    ),
    images: Type.Optional(Type.Array(Type.String(), { description: 'extra images to carry, each with a tag or digest (--image adds more)' })),
    files: Type.Optional(
      Type.Array(
        Type.Object(
          {
            url: Type.String({ description: 'an http(s) URL naming a file' }),
            sha256: Type.Optional(Sha256Hex),
          },
          strict,
        ),
        { description: 'extra files to carry (--file adds more)' },
      ),
    ),
    components: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'version overrides: crictl, cni-plugins, helm, k9s, kubernetes-release, flannel, registry, pause, etcd, coredns, flannel-cni-plugin (--component NAME=VERSION wins)',
      }),
    ),
    registry: Type.Optional(
      Type.Object(
        {
          endpoint: Type.String({ description: "the internal registry's HOST:PORT as the nodes address it (recorded in cluster.registry; ag-registry up --endpoint)" }),
        },
        strict,
      ),
    ),
  },
  strict,
);
export type SiteSpec = Static<typeof SiteSpec>;

export const SiteFileSchema = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(SITE_KIND),
    metadata: Type.Object(
      {
        name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'the site or cluster, as a DNS label' }),
        description: Type.Optional(Type.String()),
      },
      strict,
    ),
    spec: SiteSpec,
  },
  {
    ...strict,
    $id: 'https://ag.invalid/schema/ag-site.schema.json',
    title: 'ag site file',
    description: 'A cluster described once, read by ag-fetch plan --site; flags override its fields (docs/site.md).',
  },
);
export type SiteFile = Static<typeof SiteFileSchema>;

/** Where the generated schema is committed, relative to the repository root. */
export const SITE_SCHEMA_FILE = 'docs/schema/ag-site.schema.json';

/** The committed file's exact text. */
export function renderSiteSchema(): string {
  return `${JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...JSON.parse(JSON.stringify(SiteFileSchema)) }, null, 2)}\n`;
}
