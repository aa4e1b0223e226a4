import { formatCommand, type RegistrySection } from '@ag/core';
import type { CertificatesResult } from './certs.js';
import type { CredentialsResult } from './credentials.js';
import type { RegistryPaths } from './paths.js';
import type { RegistryState } from './state.js';

/** The `certificates` part of the section. */
export function certificatesPart(certs: CertificatesResult): NonNullable<RegistrySection['certificates']> {
  return {
    ca: { path: certs.ca.path, notAfter: certs.ca.notAfter, sha256: certs.ca.sha256 },
    server: { path: certs.server.path, notAfter: certs.server.notAfter, sha256: certs.server.sha256 },
    sans: certs.sans,
  };
}

/** The section `up` writes: where the registry is, what to trust, where the credentials are, how to stop it. */
export function registrySection(
  paths: RegistryPaths,
  certs: CertificatesResult,
  credentials: CredentialsResult,
  state: RegistryState,
): RegistrySection {
  const log = state.runner === 'systemd' ? 'journalctl -u ag-registry' : state.runner === 'docker' || state.runner === 'podman' ? `${state.runner} logs ag-registry` : paths.logFile;
  return {
    endpoint: state.endpoint,
    mode: state.mode,
    dir: paths.dir,
    caFile: paths.caCert,
    credentialsFile: credentials.credentialsFile,
    username: credentials.username,
    listen: state.listen,
    certificates: certificatesPart(certs),
    runner: state.runner,
    stop: formatCommand('ag-registry', ['down', '--state-dir', paths.dir]),
    log,
    ...(state.layout ? { layout: state.layout } : {}),
    ...(state.server ? { server: state.server } : {}),
    startedAt: state.startedAt,
  };
}
