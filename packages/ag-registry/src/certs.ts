import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, rename, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { hostname } from 'node:os';
import { AgError, silentLogger, SystemError, VerificationError, withContext, writeFileAtomic, type Logger } from '@ag/core';
import { readOptional } from './files.js';
import { canonicalIp, defaultSubjectNames, sanStrings, withName, type SubjectNames } from './host-names.js';
import { legacyCertificatePaths, registryPaths, type RegistryPaths } from './paths.js';

const DAY_MS = 86_400_000;

/** Facts about one certificate, as the document reports them. */
export interface CertificateFacts {
  path: string;
  notBefore: string;
  /** RFC 3339 expiry. */
  notAfter: string;
  /** SHA-256 of the DER certificate (what `openssl x509 -fingerprint -sha256` prints, without colons). */
  sha256: string;
  subject: string;
}

export type CertificateAction = 'created' | 'kept' | 'renewed';

export interface CertificatesResult {
  paths: RegistryPaths;
  ca: CertificateFacts;
  server: CertificateFacts;
  /** `DNS:name` / `IP:address`, in certificate order. */
  sans: string[];
  caAction: CertificateAction;
  serverAction: CertificateAction;
  /** Why the server certificate was (re)issued, when it was. */
  reason?: string;
}

export interface EnsureCertificatesOptions {
  /** The registry directory (the CA certificate goes to DIR/certs, keys and the server certificate to DIR/private). */
  dir: string;
  /**
   * The names and addresses to cover. When undefined, an existing valid
   * certificate is kept as it is, and a new one covers this host's names.
   */
  names?: SubjectNames;
  /** Hosts that must be covered whatever else is asked (the endpoint clients use). */
  require?: string[];
  /** Issue a new server certificate (and key) from the same CA even when the current one is fine. */
  renew?: boolean;
  /** Validity of a new server certificate (default 825 days, the longest most clients accept). */
  serverDays?: number;
  /** Validity of a new CA (default 3650 days). */
  caDays?: number;
  /** Renew a server certificate that expires within this many days (default 30). */
  renewBeforeDays?: number;
  now?: Date;
  log?: Logger;
}

function facts(path: string, cert: X509Certificate): CertificateFacts {
  return {
    path,
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    sha256: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
    subject: cert.subject.split('\n').join(', '),
  };
}

function parseCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new VerificationError(`${path} is not a PEM certificate`, { cause: error, hint: 'restore it, or move the certs and private directories away to start over' });
  }
}

/** Whether the private key in `keyPem` belongs to `cert`. */
function keyMatches(cert: X509Certificate, keyPem: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** The SANs of a certificate (Node prints them `DNS:a, IP Address:b`). */
function certificateNames(cert: X509Certificate): SubjectNames {
  const names: SubjectNames = { dns: [], ips: [] };
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) names.dns.push(entry.slice(4).toLowerCase());
    else if (entry.startsWith('IP Address:')) names.ips.push(canonicalIp(entry.slice(11)));
  }
  return names;
}

function missingNames(have: SubjectNames, want: SubjectNames): string[] {
  return [...want.dns.filter((n) => !have.dns.includes(n)), ...want.ips.filter((ip) => !have.ips.includes(ip))];
}

function union(a: SubjectNames, b: SubjectNames): SubjectNames {
  return { dns: [...new Set([...a.dns, ...b.dns])], ips: [...new Set([...a.ips, ...b.ips])] };
}

async function writeKeyAndCert(keyPath: string, keyPem: string, certPath: string, certPem: string): Promise<void> {
  // The key first: a certificate on disk without its key would look valid and fail at TLS time.
  await writeFileAtomic(keyPath, keyPem, { mode: 0o600 });
  await writeFileAtomic(certPath, certPem, { mode: 0o644 });
}

/** Keys must stay private: refuse to use one (or a directory of them) that others can read, rather than silently chmod it. */
async function assertPrivate(path: string): Promise<void> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new SystemError(`${path} is open to others (mode ${(info.mode & 0o777).toString(8)})`, {
      hint: `chmod ${info.isDirectory() ? '700' : '600'} ${path} (and consider the keys exposed: move the certs and private directories away to start over)`,
    });
  }
}

/**
 * Makes DIR/private (0700) and moves there the keys and the server
 * certificate an older ag-registry kept beside ca.crt in DIR/certs, so that
 * DIR/certs holds only what clients trust. A rename in one directory tree:
 * the CA (which nodes trust) is kept, never reissued.
 */
async function ensurePrivateDir(paths: RegistryPaths, log: Logger): Promise<void> {
  await mkdir(paths.privateDir, { recursive: true, mode: 0o700 });
  await assertPrivate(paths.privateDir);
  const moved: string[] = [];
  for (const { from, to } of legacyCertificatePaths(paths)) {
    if ((await readOptional(from)) === undefined) continue;
    if ((await readOptional(to)) !== undefined) {
      log.warn(`${from} is left from an older layout and no longer used (${to} is); delete it so that ${paths.certsDir} holds only what clients trust`);
      continue;
    }
    await rename(from, to);
    moved.push(basename(from));
  }
  if (moved.length > 0) {
    log.info(`moved ${moved.join(', ')} from ${paths.certsDir} to ${paths.privateDir} (0700): ${paths.certsDir} now holds only ca.crt, for skopeo --cert-dir or a certs.d/<host> directory`);
  }
}

interface LoadedCa {
  cert: X509Certificate;
  pem: string;
  keyPem: string;
  action: CertificateAction;
}

async function ensureCa(paths: RegistryPaths, now: Date, caDays: number, log: Logger): Promise<LoadedCa> {
  const certPem = await readOptional(paths.caCert);
  const keyPem = await readOptional(paths.caKey);
  if (certPem !== undefined && keyPem !== undefined) {
    const cert = parseCertificate(certPem, paths.caCert);
    if (!keyMatches(cert, keyPem)) {
      throw new VerificationError(`the CA key ${paths.caKey} does not belong to ${paths.caCert}`, {
        hint: 'restore the matching pair, or move the certs and private directories away to start over with a new CA (nodes must then trust it)',
      });
    }
    if (Date.parse(cert.validTo) <= now.getTime()) {
      throw new VerificationError(`the CA ${paths.caCert} expired on ${new Date(cert.validTo).toISOString()}`, {
        hint: 'move the certs and private directories away and run again to create a new CA, then run ag-registry trust on every node',
      });
    }
    await assertPrivate(paths.caKey);
    return { cert, pem: certPem, keyPem, action: 'kept' };
  }
  if (certPem !== undefined || keyPem !== undefined) {
    throw new VerificationError(`only half of the CA is there (${certPem === undefined ? paths.caCert : paths.caKey} is missing)`, {
      hint: 'restore the missing file, or move the certs and private directories away to start over with a new CA',
    });
  }
  const { issueCa } = await import('./certificate-issuer.js');
  const issued = await issueCa(`CN=ag-registry CA ${hostname()} ${now.toISOString().slice(0, 10)}, O=ag`, now, caDays);
  await writeKeyAndCert(paths.caKey, issued.key, paths.caCert, issued.cert);
  const cert = new X509Certificate(issued.cert);
  log.info(`created a CA valid until ${new Date(cert.validTo).toISOString()}: ${paths.caCert} (key ${paths.caKey}, mode 0600)`);
  return { cert, pem: issued.cert, keyPem: issued.key, action: 'created' };
}

/** Why an existing server certificate cannot be kept, or undefined when it can. */
function serverCertProblem(cert: X509Certificate, keyPem: string, ca: X509Certificate, want: SubjectNames | undefined, now: Date, renewBeforeDays: number): string | undefined {
  if (!keyMatches(cert, keyPem)) return 'its key does not match';
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'it is not signed by the current CA';
  const notAfter = Date.parse(cert.validTo);
  if (notAfter - now.getTime() < renewBeforeDays * DAY_MS) return `it expires on ${new Date(notAfter).toISOString()}`;
  if (want !== undefined) {
    const missing = missingNames(certificateNames(cert), want);
    if (missing.length > 0) return `it does not cover ${missing.join(', ')}`;
  }
  return undefined;
}

/**
 * Makes sure DIR/certs holds a CA certificate (and nothing else) and
 * DIR/private (0700) its key and a server certificate signed by it that
 * covers the names asked for. Idempotent: a valid certificate that covers
 * them is kept; `renew` issues a new server certificate (and key) from the
 * same CA. The CA is created once and never replaced here: nodes trust it.
 * Keys are PKCS#8 PEM, mode 0600.
 *
 * Deliberately does not import an outside CA, and does not renew the CA.
 */
export async function ensureCertificates(options: EnsureCertificatesOptions): Promise<CertificatesResult> {
  const log = options.log ?? silentLogger;
  const now = options.now ?? new Date();
  const paths = registryPaths(options.dir);
  try {
    await mkdir(paths.certsDir, { recursive: true, mode: 0o755 });
    await ensurePrivateDir(paths, log);
    const ca = await ensureCa(paths, now, options.caDays ?? 3650, log);
    const required = (options.require ?? []).reduce<SubjectNames>((names, host) => withName(names, host), { dns: [], ips: [] });
    const want = options.names === undefined ? undefined : union(options.names, required);
    const checkNames = want ?? (required.dns.length + required.ips.length > 0 ? required : undefined);

    const certPem = await readOptional(paths.serverCert);
    const keyPem = await readOptional(paths.serverKey);
    let reason = 'there is none';
    let existingNames: SubjectNames | undefined;
    if (certPem !== undefined && keyPem !== undefined) {
      let cert: X509Certificate | undefined;
      try {
        cert = new X509Certificate(certPem);
      } catch {
        reason = `${paths.serverCert} is not a PEM certificate`;
      }
      if (cert !== undefined) {
        existingNames = certificateNames(cert);
        const problem = options.renew ? 'renewal was asked for' : serverCertProblem(cert, keyPem, ca.cert, checkNames, now, options.renewBeforeDays ?? 30);
        if (problem === undefined) {
          await assertPrivate(paths.serverKey);
          return { paths, ca: facts(paths.caCert, ca.cert), server: facts(paths.serverCert, cert), sans: sanStrings(existingNames), caAction: ca.action, serverAction: 'kept' };
        }
        reason = problem;
      }
    }
    // Names for the new certificate: what was asked, else what the old one had, else this host's; plus what is required.
    const names = union(want ?? existingNames ?? defaultSubjectNames(), required);
    const { issueServerCertificate } = await import('./certificate-issuer.js');
    const issued = await issueServerCertificate({ cert: ca.pem, key: ca.keyPem, keyPath: paths.caKey }, names, now, options.serverDays ?? 825);
    await writeKeyAndCert(paths.serverKey, issued.key, paths.serverCert, issued.cert);
    const server = new X509Certificate(issued.cert);
    const action: CertificateAction = certPem === undefined ? 'created' : 'renewed';
    const serverFacts = facts(paths.serverCert, server);
    log.info(`${action === 'created' ? 'issued' : 'renewed'} the server certificate (${reason}), valid until ${serverFacts.notAfter}, for ${sanStrings(names).join(', ')}`);
    return { paths, ca: facts(paths.caCert, ca.cert), server: serverFacts, sans: sanStrings(names), caAction: ca.action, serverAction: action, reason };
  } catch (error) {
    if (error instanceof AgError) throw error;
    throw withContext(`preparing certificates in ${paths.certsDir}`, error);
  }
}

/** Reads the facts of an existing certificate (for status and for the document). */
export async function readCertificateFacts(path: string): Promise<CertificateFacts & { names: SubjectNames }> {
  const pem = await readOptional(path);
  if (pem === undefined) throw new AgError('missing', `no certificate at ${path}`, { hint: 'run ag-registry certs (or up) first' });
  const cert = parseCertificate(pem, path);
  return { ...facts(path, cert), names: certificateNames(cert) };
}
