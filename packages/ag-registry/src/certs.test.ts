import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { ensureCertificates } from './certs.js';
import { main } from './cli.js';
import { registryPaths } from './paths.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-certs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('ensureCertificates', () => {
  it('creates a CA and a server certificate that openssl verifies, with the SANs asked for and 0600 keys', async () => {
    const sub = join(dir, 'fresh');
    const now = new Date();
    const result = await ensureCertificates({ dir: sub, names: { dns: ['localhost', 'registry.example'], ips: ['127.0.0.1', '10.0.0.5'] } });
    const paths = registryPaths(sub);
    expect(result.caAction).toBe('created');
    expect(result.serverAction).toBe('created');
    expect(result.sans).toEqual(['DNS:localhost', 'DNS:registry.example', 'IP:127.0.0.1', 'IP:10.0.0.5']);

    expect(openssl(['verify', '-CAfile', paths.caCert, paths.serverCert]).trim()).toBe(`${paths.serverCert}: OK`);
    const server = new X509Certificate(await readFile(paths.serverCert));
    expect(server.subjectAltName).toBe('DNS:localhost, DNS:registry.example, IP Address:127.0.0.1, IP Address:10.0.0.5');
    expect(server.checkHost('registry.example')).toBe('registry.example');
    expect(server.checkIP('10.0.0.5')).toBe('10.0.0.5');
    expect(server.ca).toBe(false);
    const text = openssl(['x509', '-in', paths.serverCert, '-noout', '-text']);
    expect(text).toContain('TLS Web Server Authentication');
    const ca = new X509Certificate(await readFile(paths.caCert));
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);

    // Validity: about 825 days for the server, 10 years for the CA; the document gets the same dates.
    const days = (date: string) => (Date.parse(date) - now.getTime()) / 86_400_000;
    expect(days(server.validTo)).toBeGreaterThan(824);
    expect(days(server.validTo)).toBeLessThan(826);
    expect(days(ca.validTo)).toBeGreaterThan(3649);
    expect(Date.parse(result.server.notAfter)).toBe(Date.parse(server.validTo));
    expect(result.server.sha256).toBe(server.fingerprint256.replace(/:/g, '').toLowerCase());

    expect(await mode(paths.caKey)).toBe(0o600);
    expect(await mode(paths.serverKey)).toBe(0o600);
    expect(await mode(paths.caCert)).toBe(0o644);
    // certs/ holds what clients trust and nothing else (a certs.d/<host> or skopeo --cert-dir takes every
    // *.crt as a CA and every *.key as a client key); the keys live in a directory only root can enter.
    expect(await readdir(paths.certsDir)).toEqual(['ca.crt']);
    expect(await mode(paths.certsDir)).toBe(0o755);
    expect((await readdir(paths.privateDir)).sort()).toEqual(['ca.key', 'server.crt', 'server.key']);
    expect(await mode(paths.privateDir)).toBe(0o700);
    // PKCS#8 PEM, ECDSA P-256: what distribution, Node and openssl all read.
    expect(await readFile(paths.serverKey, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(openssl(['pkey', '-in', paths.caKey, '-noout', '-text'])).toContain('prime256v1');
  });

  it('keeps valid certificates, renews the server certificate on --renew with the same CA, reissues for new names', async () => {
    const sub = join(dir, 'renew');
    const names = { dns: ['localhost'], ips: ['127.0.0.1'] };
    const first = await ensureCertificates({ dir: sub, names });
    const paths = registryPaths(sub);
    const caBefore = await readFile(paths.caCert, 'utf8');
    const caKeyBefore = await readFile(paths.caKey, 'utf8');

    const again = await ensureCertificates({ dir: sub, names });
    expect(again.serverAction).toBe('kept');
    expect(again.server.sha256).toBe(first.server.sha256);
    // Without names, an existing valid certificate is kept as it is.
    expect((await ensureCertificates({ dir: sub })).serverAction).toBe('kept');

    const renewed = await ensureCertificates({ dir: sub, names, renew: true });
    expect(renewed.serverAction).toBe('renewed');
    expect(renewed.caAction).toBe('kept');
    expect(renewed.server.sha256).not.toBe(first.server.sha256);
    expect(await readFile(paths.caCert, 'utf8')).toBe(caBefore);
    expect(await readFile(paths.caKey, 'utf8')).toBe(caKeyBefore);
    expect(openssl(['verify', '-CAfile', paths.caCert, paths.serverCert])).toContain('OK');

    const wider = await ensureCertificates({ dir: sub, names: { dns: ['localhost', 'registry.internal'], ips: ['127.0.0.1'] } });
    expect(wider.serverAction).toBe('renewed');
    expect(wider.reason).toContain('does not cover registry.internal');
    expect(wider.sans).toContain('DNS:registry.internal');
    expect(await readFile(paths.caCert, 'utf8')).toBe(caBefore);

    // A required endpoint host is added to what the certificate already covers.
    const required = await ensureCertificates({ dir: sub, require: ['192.168.7.7'] });
    expect(required.sans).toEqual(['DNS:localhost', 'DNS:registry.internal', 'IP:127.0.0.1', 'IP:192.168.7.7']);
  });

  it('moves the keys of an older layout (beside ca.crt in certs/) to private/, keeping the CA nodes trust', async () => {
    const sub = join(dir, 'legacy');
    const first = await ensureCertificates({ dir: sub, names: { dns: ['localhost'], ips: [] } });
    const paths = registryPaths(sub);
    // The layout ag-registry wrote before: everything in certs/.
    for (const name of ['ca.key', 'server.key', 'server.crt']) await rename(join(paths.privateDir, name), join(paths.certsDir, name));
    await rm(paths.privateDir, { recursive: true });
    const io = createTestIo();
    const again = await ensureCertificates({ dir: sub, names: { dns: ['localhost'], ips: [] }, log: createLogger(io, { tool: 'ag-registry' }) });
    expect(again).toMatchObject({ caAction: 'kept', serverAction: 'kept' });
    expect(again.ca.sha256).toBe(first.ca.sha256);
    expect(again.server.sha256).toBe(first.server.sha256);
    expect(await readdir(paths.certsDir)).toEqual(['ca.crt']);
    expect(await mode(paths.privateDir)).toBe(0o700);
    expect(io.stderrText()).toContain(`moved ca.key, server.key, server.crt from ${paths.certsDir} to ${paths.privateDir}`);
  });

  it('renews a server certificate that is about to expire', async () => {
    const sub = join(dir, 'expiring');
    const names = { dns: ['localhost'], ips: [] };
    await ensureCertificates({ dir: sub, names, serverDays: 10 });
    const next = await ensureCertificates({ dir: sub, names });
    expect(next.serverAction).toBe('renewed');
    expect(next.reason).toMatch(/expires on/);
  });

  it('refuses a CA key that others can read, and a CA whose key does not match', async () => {
    const sub = join(dir, 'broken');
    await ensureCertificates({ dir: sub, names: { dns: ['localhost'], ips: [] } });
    const paths = registryPaths(sub);
    await chmod(paths.caKey, 0o644);
    await expect(ensureCertificates({ dir: sub })).rejects.toMatchObject({ kind: 'system', message: expect.stringContaining('open to others') });
    await chmod(paths.caKey, 0o600);
    await chmod(paths.privateDir, 0o755);
    await expect(ensureCertificates({ dir: sub })).rejects.toMatchObject({ kind: 'system', message: expect.stringContaining(`${paths.privateDir} is open to others`), hint: expect.stringContaining('chmod 700') });
    await chmod(paths.privateDir, 0o700);
    await writeFile(paths.caKey, await readFile(paths.serverKey));
    await expect(ensureCertificates({ dir: sub })).rejects.toMatchObject({ kind: 'verification', message: expect.stringContaining('does not belong to') });
  });
});

describe('ag-registry certs', () => {
  it('writes the certificates section, with expiry, into the document', async () => {
    const sub = join(dir, 'cli');
    const io = createTestIo({ stdin: '{"apiVersion":"ag/v1alpha1","kind":"Cluster","other":{"kept":true}}' });
    expect(await main(['certs', '--state-dir', sub, '--host', 'localhost', '--ip', '127.0.0.1'], io)).toBe(0);
    const doc = JSON.parse(io.stdoutText());
    expect(doc.other).toEqual({ kept: true });
    expect(doc.registry).toMatchObject({
      dir: sub,
      caFile: join(sub, 'certs', 'ca.crt'),
      certificates: { sans: ['DNS:localhost', 'IP:127.0.0.1'], server: { path: join(sub, 'private', 'server.crt') } },
    });
    expect(Date.parse(doc.registry.certificates.server.notAfter)).toBeGreaterThan(Date.now());
    expect(io.stderrText()).toContain('created a CA');

    const again = createTestIo({ stdin: '' });
    expect(await main(['certs', '--state-dir', sub, '--host', 'localhost', '--ip', '127.0.0.1'], again)).toBe(0);
    expect(again.stderrText()).toContain('kept');
    expect(JSON.parse(again.stdoutText()).registry.certificates.server.sha256).toBe(doc.registry.certificates.server.sha256);
  });

  it('rejects a --host that is not a DNS name with exit code 2', async () => {
    const io = createTestIo();
    expect(await main(['certs', '--state-dir', join(dir, 'bad'), '--host', 'not a name'], io)).toBe(2);
    expect(io.stderrText()).toContain('is not a valid DNS name');
    expect(io.stdoutText()).toBe('');
  });
});
