import { SHA256_HEX, VerificationError } from '@ag/core';

/**
 * Reads a checksum file as upstreams publish them: a bare digest
 * (`dl.k8s.io/…/kubeadm.sha256`), `digest  name` (sha256sum's format, as
 * `.sha256sum` and GitHub `.sha256` files have it, `*name` for binary mode),
 * or a list for many assets (goreleaser's `checksums.txt`), from which the
 * line for `assetName` is taken.
 */
export function parseChecksumFile(text: string, assetName: string, source: string): string {
  const digests: { digest: string; name: string | undefined }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [first = '', ...rest] = line.split(/\s+/);
    const digest = first.toLowerCase();
    if (!SHA256_HEX.test(digest)) continue;
    const name = rest.length === 0 ? undefined : rest.join(' ').replace(/^\*/, '').replace(/^\.\//, '');
    digests.push({ digest, name });
  }
  const named = digests.find((d) => d.name !== undefined && (d.name === assetName || d.name.split('/').pop() === assetName));
  if (named !== undefined) return named.digest;
  const bare = digests.filter((d) => d.name === undefined);
  if (bare.length === 1 && digests.length === 1) return bare[0]!.digest;
  if (digests.length === 1 && digests[0]!.name !== undefined) {
    throw new VerificationError(`${source} is the checksum of ${digests[0]!.name}, not of ${assetName}`);
  }
  throw new VerificationError(
    digests.length === 0 ? `${source} holds no SHA-256 digest` : `${source} has no line for ${assetName}`,
    { hint: 'upstream changed its checksum file format or the asset name; pin the checksum with --component or plan with --no-checksums' },
  );
}
