import { Type, type Static } from '@sinclair/typebox';

export const CertificateInfo = Type.Object({
  path: Type.String(),
  notAfter: Type.String({ description: 'RFC 3339 expiry' }),
  sha256: Type.Optional(Type.String({ description: 'fingerprint of the DER certificate' })),
});

/** The `registry` section: owned by ag-registry. Secrets are never here, only the files that hold them. */
export const RegistrySection = Type.Object({
  /** host:port as clients address it. */
  endpoint: Type.String(),
  mode: Type.Union([
    Type.Literal('distribution'),
    Type.Literal('containerd'),
    Type.Literal('docker'),
    Type.Literal('podman'),
    Type.Literal('embedded'),
  ]),
  dir: Type.String(),
  caFile: Type.String(),
  /** A 0600 file with the generated credentials. */
  credentialsFile: Type.Optional(Type.String()),
  certificates: Type.Optional(Type.Object({ ca: CertificateInfo, server: CertificateInfo, sans: Type.Array(Type.String()) })),
  /** The command that stops it. */
  stop: Type.Optional(Type.String()),
});
export type RegistrySection = Static<typeof RegistrySection>;
