import { Type, type Static } from '@sinclair/typebox';
import { AbsolutePath, Architecture, RelativePath, Sha256Hex, Timestamp } from './common.js';

/** How a file is put in place on a node (used by ag-nodeprep). */
export const FileInstall = Type.Object({
  /** Where the file itself goes (`/usr/local/bin/kubeadm`). */
  path: Type.Optional(AbsolutePath),
  /** Octal mode as a string, e.g. "0755". */
  mode: Type.Optional(Type.String({ pattern: '^0[0-7]{3}$' })),
  /** For archives: the directory they are unpacked into (`/opt/cni/bin`). */
  extractTo: Type.Optional(AbsolutePath),
  /** For archives: only these members (e.g. `linux-amd64/helm`), flattened into extractTo. */
  members: Type.Optional(Type.Array(Type.String())),
});
export type FileInstall = Static<typeof FileInstall>;

/** One file carried across the gap: a binary, an archive, a manifest, a unit, a chart. */
export const FileArtifact = Type.Object({
  name: Type.String({ description: 'what it is, e.g. kubeadm, cni-plugins, kube-flannel.yml' }),
  kind: Type.Union([
    Type.Literal('binary'),
    Type.Literal('archive'),
    Type.Literal('manifest'),
    Type.Literal('systemd-unit'),
    Type.Literal('chart'),
    Type.Literal('file'),
  ]),
  arch: Type.Optional(Architecture),
  version: Type.Optional(Type.String()),
  source: Type.Object({
    url: Type.String({ description: 'where download fetches it: upstream, or the mirror plan was pointed at' }),
    upstreamUrl: Type.Optional(Type.String({ description: 'where upstream publishes it, when url is a mirror' })),
    checksumUrl: Type.Optional(Type.String({ description: 'where upstream publishes its checksum' })),
  }),
  /** Known at plan time when upstream publishes a checksum; set by download otherwise. */
  sha256: Type.Optional(Sha256Hex),
  sha256From: Type.Optional(
    Type.Union(
      [
        Type.Literal('upstream'),
        Type.Literal('index'),
        Type.Literal('flag'),
        Type.Literal('plan'),
        Type.Literal('download'),
      ],
      {
        description:
          "where sha256 came from: upstream's checksum file, a Helm repository index, a --file flag, the file as plan fetched it (upstream publishes no checksum), or the first download (trust on first use)",
      },
    ),
  ),
  /** Set by download. */
  size: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Where it lives in the bundle, relative to the bundle root. */
  path: RelativePath,
  install: Type.Optional(FileInstall),
  /** Why the plan holds it (e.g. "kubelet systemd unit, paths fixed to /usr/local/bin"). */
  note: Type.Optional(Type.String()),
});
export type FileArtifact = Static<typeof FileArtifact>;

/** An image the cluster needs, by its upstream name. */
export const PlannedImage = Type.Object({
  ref: Type.String({ description: 'the fully qualified upstream reference, e.g. registry.k8s.io/pause:3.9' }),
  role: Type.Union([
    Type.Literal('control-plane'),
    Type.Literal('cni'),
    Type.Literal('registry'),
    Type.Literal('app'),
    Type.Literal('extra'),
  ]),
  component: Type.Optional(Type.String({ description: 'e.g. pause, etcd, coredns, flannel' })),
  origin: Type.Optional(
    Type.String({ description: 'where the entry came from: kubeadm, the table, a manifest, a --component override, a --image flag' }),
  ),
});
export type PlannedImage = Static<typeof PlannedImage>;

/** Where one version in the plan came from. */
export const VersionSource = Type.Object({
  from: Type.Union(
    [
      Type.Literal('flag'),
      Type.Literal('table'),
      Type.Literal('stable-txt'),
      Type.Literal('release-listing'),
      Type.Literal('kubeadm'),
      Type.Literal('manifest'),
    ],
    {
      description:
        "flag: --kubernetes-version, --component or --cni named it; table: ag-fetch's dated table (packages/ag-fetch/data); stable-txt: dl.k8s.io's stable.txt or stable-1.N.txt; release-listing: the project's GitHub releases (API); kubeadm: the release's own kubeadm listed it; manifest: the flannel release's kube-flannel.yml names it",
    },
  ),
  detail: Type.String({ description: 'the URL asked, the flag, or the table and row' }),
  checked: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'for a table: the date its rows were last checked against upstream' })),
});
export type VersionSource = Static<typeof VersionSource>;

/** One file `ag-fetch download --dry-run` would fetch, or find present and verify. */
export const PlannedDownload = Type.Object({
  action: Type.Union([Type.Literal('fetch'), Type.Literal('verify-present')]),
  path: RelativePath,
  url: Type.String({ description: 'where it would be fetched from, mirrors applied' }),
  sha256: Type.Optional(Sha256Hex),
  size: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type PlannedDownload = Static<typeof PlannedDownload>;

/**
 * What `ag-fetch download --dry-run` would do: written into the document it
 * passes through, so a whole pipeline can be dry-run. Nothing was fetched,
 * and neither the bundle nor the package cache was touched.
 */
export const DownloadDryRun = Type.Object({
  at: Timestamp,
  root: Type.String({ description: 'the bundle root download would write to' }),
  files: Type.Array(PlannedDownload),
  bytes: Type.Integer({ minimum: 0, description: 'bytes to fetch, of the files whose size the plan knows' }),
  unknownSizes: Type.Integer({ minimum: 0, description: 'files to fetch whose size is known only once their server answers' }),
  osPackages: Type.Optional(
    Type.Object({
      os: Type.String(),
      architectures: Type.Array(Type.String()),
      requested: Type.Array(Type.String()),
      sources: Type.Array(Type.String({ description: 'the distribution repositories the closure would be resolved against (URI and suite)' })),
      cache: Type.String({ description: 'the private apt/dnf state download would use and keep' }),
      repository: RelativePath,
    }),
  ),
});
export type DownloadDryRun = Static<typeof DownloadDryRun>;

/** The site file a plan was made from (`ag-fetch plan --site`). */
export const SiteFileRecord = Type.Object({
  path: Type.String({ description: 'the file as given (absolute)' }),
  sha256: Sha256Hex,
  name: Type.Optional(Type.String({ description: 'its metadata.name' })),
});
export type SiteFileRecord = Static<typeof SiteFileRecord>;

/** The `fetch` section: owned by ag-fetch (plan writes it, download completes it). */
export const FetchSection = Type.Object({
  plannedAt: Type.Optional(Timestamp),
  /** The site file the plan read (flags given beside it override its fields). */
  site: Type.Optional(SiteFileRecord),
  components: Type.Record(Type.String(), Type.String(), {
    description: 'the version of every component, e.g. {"crictl": "v1.27.0", "etcd": "3.5.7-0"}',
  }),
  versionSources: Type.Optional(
    Type.Record(Type.String(), VersionSource, {
      description: 'for each entry of components: where its version came from (offline plans say which came from the dated tables)',
    }),
  ),
  imageList: Type.Object({
    source: Type.Union([Type.Literal('kubeadm'), Type.Literal('table')]),
    detail: Type.String({ description: 'the kubeadm that was run, or the table and its upstream source' }),
  }),
  files: Type.Array(FileArtifact),
  images: Type.Array(PlannedImage),
  download: Type.Optional(
    Type.Object({
      completedAt: Timestamp,
      files: Type.Integer({ minimum: 0 }),
      bytes: Type.Integer({ minimum: 0 }),
      fetched: Type.Optional(Type.Integer({ minimum: 0, description: 'files fetched by the last run' })),
      reused: Type.Optional(Type.Integer({ minimum: 0, description: 'files already present and verified by the last run' })),
    }),
  ),
  dryRun: Type.Optional(DownloadDryRun),
});
export type FetchSection = Static<typeof FetchSection>;

