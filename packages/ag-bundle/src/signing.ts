import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { MissingError, UsageError, withContext, writeFileAtomic } from '@ag/core';
import type { SignatureAlgorithm } from './signature-algorithms.js';

/**
 * Signatures over SHA256SUMS (and a split bundle's parts list) that openssl
 * alone can check:
 *
 * - ECDSA P-256 over SHA-256, DER-encoded (Node's default for EC keys, and
 *   what `openssl dgst -sha256 -sign` writes):
 *   `openssl dgst -sha256 -verify PUB.pem -signature SHA256SUMS.sig SHA256SUMS`
 * - Ed25519 (pure, RFC 8032): `openssl pkeyutl -verify -pubin -inkey PUB.pem
 *   -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig`
 *
 * A key is named by its fingerprint: the SHA-256 of its DER
 * SubjectPublicKeyInfo (`openssl pkey -pubin -in PUB.pem -outform DER |
 * sha256sum`).
 */
export { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './signature-algorithms.js';

/** The most a signature file may weigh (an Ed25519 one is 64 bytes, a DER P-256 one at most 72). */
export const MAX_SIGNATURE_BYTES = 4096;

function algorithmOf(key: KeyObject, path: string): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new UsageError(`${path} is a ${key.asymmetricKeyType}${curve ? ` ${curve}` : ''} key; ag-bundle signs with ECDSA P-256 or Ed25519`, {
    hint: 'make a key with ag-bundle keygen (or openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt)',
  });
}

/** SHA-256 of the public key's DER SubjectPublicKeyInfo, as hex. */
export function keyFingerprint(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

export interface SigningKey {
  key: KeyObject;
  algorithm: SignatureAlgorithm;
  fingerprint: string;
  path: string;
}

export interface PublicKey {
  key: KeyObject;
  algorithm: SignatureAlgorithm;
  fingerprint: string;
  path: string;
}

async function readKeyFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new MissingError(`${what} ${path} does not exist`, { hint: 'make a key pair with ag-bundle keygen --out KEY.pem' });
    }
    throw withContext(`reading ${what} ${path}`, error);
  }
}

/** Loads a PEM private key (PKCS#8 or SEC1) for signing. */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  const pem = await readKeyFile(path, 'the signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new UsageError(`${path} is not a PEM private key: ${(error as Error).message}`, {
      hint: 'pass the private key that ag-bundle keygen wrote (the .pem, not the .pub.pem)',
    });
  }
  return { key, algorithm: algorithmOf(key, path), fingerprint: keyFingerprint(key), path };
}

/** Loads a PEM public key (or derives it from a private key) for verifying. */
export async function loadPublicKey(path: string): Promise<PublicKey> {
  const pem = await readKeyFile(path, 'the public key');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new UsageError(`${path} is not a PEM public key: ${(error as Error).message}`, {
      hint: 'pass the .pub.pem that ag-bundle keygen wrote next to the private key',
    });
  }
  return { key, algorithm: algorithmOf(key, path), fingerprint: keyFingerprint(key), path };
}

/** Signs bytes: DER ECDSA over SHA-256, or Ed25519. */
export function signBytes(signer: SigningKey, data: Uint8Array): Buffer {
  return sign(signer.algorithm === 'ed25519' ? null : 'sha256', data, signer.key);
}

/** Whether `signature` over `data` verifies with `publicKey`. Never throws on a malformed signature. */
export function verifyBytes(publicKey: PublicKey, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(publicKey.algorithm === 'ed25519' ? null : 'sha256', data, publicKey.key, signature);
  } catch {
    return false;
  }
}

/** The openssl command that checks a signature made with this key's algorithm. */
export function opensslVerifyCommand(algorithm: SignatureAlgorithm, publicKeyPath: string, dataPath: string, signaturePath: string): string {
  return algorithm === 'ed25519'
    ? `openssl pkeyutl -verify -pubin -inkey ${publicKeyPath} -rawin -in ${dataPath} -sigfile ${signaturePath}`
    : `openssl dgst -sha256 -verify ${publicKeyPath} -signature ${signaturePath} ${dataPath}`;
}

export interface KeygenOptions {
  /** Where the private key goes (mode 0600); the public key goes next to it as `<stem>.pub.pem`. */
  out: string;
  /** Where the public key goes, if not next to the private one. */
  publicOut?: string;
  algorithm?: SignatureAlgorithm;
  /** Overwrite existing files. */
  force?: boolean;
}

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  algorithm: SignatureAlgorithm;
  fingerprint: string;
}

/** `KEY.pem` -> `KEY.pub.pem`; any other name gets `.pub.pem` appended. */
export function publicKeyPathFor(privatePath: string): string {
  return privatePath.endsWith('.pem') ? `${privatePath.slice(0, -4)}.pub.pem` : `${privatePath}.pub.pem`;
}

/**
 * Makes a signing key pair: the private key as PKCS#8 PEM (mode 0600), the
 * public key as SPKI PEM, each written atomically. Refuses to overwrite an
 * existing key unless `force`: a lost private key cannot be recovered, and a
 * replaced one no longer matches what the far side trusts.
 */
export async function generateKeyPair(options: KeygenOptions): Promise<KeygenResult> {
  const algorithm = options.algorithm ?? 'ecdsa-p256-sha256';
  const publicOut = options.publicOut ?? publicKeyPathFor(options.out);
  if (!options.force) {
    for (const path of [options.out, publicOut]) {
      const exists = await stat(path).then(
        () => true,
        () => false,
      );
      if (exists) throw new UsageError(`${path} already exists`, { hint: 'choose another --out, or pass --force to replace the key pair' });
    }
  }
  const pair =
    algorithm === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' });
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' });
  try {
    await writeFileAtomic(options.out, privatePem, { mode: 0o600 });
    await writeFileAtomic(publicOut, publicPem, { mode: 0o644 });
  } catch (error) {
    throw withContext(`writing the key pair ${options.out}`, error);
  }
  return { privateKey: options.out, publicKey: publicOut, algorithm, fingerprint: keyFingerprint(pair.publicKey) };
}
