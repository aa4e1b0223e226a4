import { Type, type Static } from '@sinclair/typebox';
import { Sha256Hex, Timestamp } from './common.js';

export const CertificateInfo = Type.Object({
  path: Type.String({ description: 'absolute path of the PEM certificate on the registry host' }),
  notAfter: Type.String({ description: 'RFC 3339 expiry' }),
  sha256: Type.Optional(Type.String({ description: 'fingerprint of the DER certificate' })),
});

export const RegistryMode = Type.Union(
  [Type.Literal('distribution'), Type.Literal('containerd'), Type.Literal('docker'), Type.Literal('podman'), Type.Literal('embedded')],
  { description: 'what serves the registry: the distribution binary, the registry image under a container runtime, or ag itself (read-only)' },
);
export type RegistryMode = Static<typeof RegistryMode>;

export const RegistryRunner = Type.Union(
  [Type.Literal('systemd'), Type.Literal('process'), Type.Literal('containerd'), Type.Literal('docker'), Type.Literal('podman')],
  { description: 'what keeps it running: a systemd unit, ag-registry\'s own supervisor process, or a container runtime' },
);
export type RegistryRunner = Static<typeof RegistryRunner>;

/** What `ag-registry status` found. */
export const RegistryStatus = Type.Object({
  checkedAt: Timestamp,
  /** The process, unit or container is there. */
  running: Type.Boolean(),
  /** `/v2/` answered over TLS with the generated credentials. */
  answering: Type.Boolean(),
  tls: Type.Object({
    valid: Type.Boolean({ description: 'the server certificate chains to caFile, covers the endpoint and is within its validity' }),
    error: Type.Optional(Type.String()),
  }),
  repositories: Type.Optional(Type.Integer({ minimum: 0 })),
  blobs: Type.Optional(Type.Integer({ minimum: 0 })),
  error: Type.Optional(Type.String()),
});
export type RegistryStatus = Static<typeof RegistryStatus>;

/**
 * The `registry` section: owned by ag-registry. Secrets are never here, only
 * the files (mode 0600) that hold them. Paths are absolute on the registry
 * host: the registry's state lives outside the bundle.
 */
export const RegistrySection = Type.Object({
  /** host:port as clients address it (set by `up`). */
  endpoint: Type.Optional(Type.String()),
  /** Set by `up`. */
  mode: Type.Optional(RegistryMode),
  /** The registry's directory: certificates, credentials, config, storage, run state. */
  dir: Type.String(),
  /** The CA certificate nodes trust (PEM). */
  caFile: Type.String(),
  /**
   * A 0600 file with the generated credentials: one line `username:password`,
   * usable as `skopeo --creds "$(cat FILE)"` or `curl -u "$(cat FILE)"`.
   */
  credentialsFile: Type.Optional(Type.String()),
  /** The user in credentialsFile (not a secret). */
  username: Type.Optional(Type.String()),
  /** ADDR:PORT the registry listens on. */
  listen: Type.Optional(Type.String()),
  certificates: Type.Optional(
    Type.Object({
      ca: CertificateInfo,
      server: CertificateInfo,
      sans: Type.Array(Type.String(), { description: 'DNS:name and IP:address entries of the server certificate' }),
    }),
  ),
  runner: Type.Optional(RegistryRunner),
  /** The command that stops it. */
  stop: Type.Optional(Type.String()),
  /** Where the registry's output goes (process runner and containerd), or how to read it. */
  log: Type.Optional(Type.String()),
  /** Embedded mode: the OCI layout served (absolute path). */
  layout: Type.Optional(Type.String()),
  /** The registry program: the binary on the host, or the image a container runs. */
  server: Type.Optional(
    Type.Object({
      binary: Type.Optional(Type.String()),
      binarySha256: Type.Optional(Sha256Hex),
      /** The image it came from or runs as, with the platform manifest digest. */
      image: Type.Optional(Type.String()),
      imageDigest: Type.Optional(Type.String()),
    }),
  ),
  startedAt: Type.Optional(Timestamp),
  status: Type.Optional(RegistryStatus),
});
export type RegistrySection = Static<typeof RegistrySection>;
