import { Type } from '@sinclair/typebox';

/** Shapes shared by several sections of the document. */

export const Sha256Hex = Type.String({ pattern: '^[a-f0-9]{64}$', description: 'SHA-256 as 64 lowercase hex digits' });

export const Digest = Type.String({ pattern: '^sha256:[a-f0-9]{64}$', description: 'an OCI content digest, sha256:<hex>' });

export const RelativePath = Type.String({
  minLength: 1,
  pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$)).+$',
  description: 'a path relative to the bundle root (no leading slash, no ..)',
});

export const AbsolutePath = Type.String({ pattern: '^/', description: 'an absolute path on the host that runs the stage' });

export const Platform = Type.String({
  pattern: '^[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?(:[0-9.]+)?$',
  description: 'os/arch[/variant][:os.version], e.g. linux/arm64/v8 or windows/amd64:10.0.17763.4974',
});

export const Architecture = Type.Union([Type.Literal('amd64'), Type.Literal('arm64'), Type.Literal('arm'), Type.Literal('ppc64le'), Type.Literal('s390x')], {
  description: 'a Kubernetes/Go architecture name',
});

export const Timestamp = Type.String({ description: 'an RFC 3339 time' });
