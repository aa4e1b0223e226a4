import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { VerificationError } from '@ag/core';
import type { SubjectNames } from './host-names.js';

/**
 * Issuing certificates with @peculiar/x509 over Node's WebCrypto. Loaded
 * only when something must be issued (certs.ts imports it on demand): the
 * library costs more to load than everything else ag-registry does when the
 * certificates are already there.
 */

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** ECDSA P-256 with SHA-256: small keys, accepted by Go (distribution, containerd), Node and OpenSSL. */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface Issued {
  /** PEM certificate. */
  cert: string;
  /** PKCS#8 PEM private key. */
  key: string;
}

function toPem(label: string, der: ArrayBuffer): string {
  const base64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** A positive 127-bit serial number (RFC 5280: at most 20 octets, positive). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

/** A self-signed CA: basicConstraints CA (path length 0), keyCertSign and cRLSign. */
export async function issueCa(subject: string, now: Date, days: number): Promise<Issued> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subject,
    keys,
    signingAlgorithm: ALGORITHM,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: `${cert.toString('pem')}\n`, key: await exportPrivateKey(keys.privateKey) };
}

async function importSigningKey(pem: string, path: string): Promise<CryptoKey> {
  try {
    const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
    return (await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])) as CryptoKey;
  } catch (error) {
    throw new VerificationError(`the CA key ${path} is not an ECDSA P-256 private key ag-registry can sign with`, {
      cause: error,
      hint: 'restore the key ag-registry wrote, or move the certs and private directories away to start over with a new CA (nodes must then trust the new CA)',
    });
  }
}

/**
 * A server certificate (and a new key) for `names`, signed by the CA:
 * serverAuth, digitalSignature, the SANs, key identifiers; never valid
 * beyond the CA.
 */
export async function issueServerCertificate(
  ca: { cert: string; key: string; keyPath: string },
  names: SubjectNames,
  now: Date,
  days: number,
): Promise<Issued> {
  const caCert = new x509.X509Certificate(ca.cert);
  const signingKey = await importSigningKey(ca.key, ca.keyPath);
  const keys = await newKeyPair();
  const commonName = names.dns.find((n) => n !== 'localhost') ?? names.dns[0] ?? names.ips[0] ?? 'ag-registry';
  // A certificate that outlives its CA gains nothing: clients reject the chain once the CA expires.
  const notAfter = new Date(Math.min(now.getTime() + days * DAY_MS, caCert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${commonName}, O=ag`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: 'dns' as const, value })),
        ...names.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { cert: `${cert.toString('pem')}\n`, key: await exportPrivateKey(keys.privateKey) };
}
