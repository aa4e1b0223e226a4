import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { VerificationError, withContext } from '@ag/core';

/**
 * kubeadm's `--discovery-token-ca-cert-hash` for a CA certificate (PEM):
 * `sha256:` + hex SHA-256 of the certificate's DER SubjectPublicKeyInfo
 * (kubeadm: cmd/kubeadm/app/util/pubkeypin). The same value as
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`.
 * A bundle of several certificates yields one hash each.
 */
export function caCertHashes(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new VerificationError('the CA file holds no PEM certificate');
  return blocks.map((block) => {
    const der = new X509Certificate(block).publicKey.export({ type: 'spki', format: 'der' });
    return `sha256:${createHash('sha256').update(der).digest('hex')}`;
  });
}

/** Reads a CA certificate file and returns its discovery hashes. */
export async function caCertHashesOfFile(path: string): Promise<string[]> {
  try {
    return caCertHashes(await readFile(path, 'utf8'));
  } catch (error) {
    throw withContext(`computing the discovery-token-ca-cert-hash of ${path}`, error);
  }
}
