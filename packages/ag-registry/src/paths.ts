import { join, resolve } from 'node:path';

/** Where a registry keeps its state when no --state-dir is given (the FHS place for service data). */
export const DEFAULT_REGISTRY_DIR = '/var/lib/ag-registry';

/** The name of the systemd unit and of the container the container modes run. */
export const SERVICE_NAME = 'ag-registry';

/**
 * Every file ag-registry keeps under its directory. One directory holds one
 * registry: its certificates, credentials, config, storage and run state, so
 * `--state-dir` is all the other verbs need to find it again.
 */
export interface RegistryPaths {
  dir: string;
  /**
   * What clients trust and nothing else (`ca.crt`): a directory that can be
   * given as is to `skopeo --cert-dir` or copied to a docker/containerd
   * `certs.d/<host>/` (there every `*.crt` is a CA and every `*.key` a client
   * key, containers-certs.d(5)), so no key and no server certificate live here.
   */
  certsDir: string;
  /** The CA certificate: what nodes trust. */
  caCert: string;
  /** The registry's own TLS material and the CA key (0700): only the registry and ag-registry read it. */
  privateDir: string;
  /** The CA's private key (0600), kept to issue later certificates. */
  caKey: string;
  serverCert: string;
  serverKey: string;
  authDir: string;
  /** bcrypt htpasswd file the registry checks. */
  htpasswd: string;
  /** 0600 file holding `username:password` in clear, for clients. */
  credentials: string;
  /** 0600 file holding the registry's HTTP secret (kept so the config is stable across runs). */
  httpSecret: string;
  /** The generated distribution config (0600: it holds the HTTP secret). */
  config: string;
  /** Distribution's storage root (docker/registry/v2/…). */
  storage: string;
  /** A registry binary extracted from the bundle's registry image. */
  binDir: string;
  runDir: string;
  /** The supervisor's pid, when it runs as a background process. */
  pidFile: string;
  /** The registry process the supervisor runs: pid and start time, so an orphan can be found and stopped. */
  childFile: string;
  /** What the supervisor runs (written by `up`, read by the supervisor). */
  superviseFile: string;
  /** What is running and with which configuration: `up` compares it to stay idempotent. */
  stateFile: string;
  /** stdout and stderr of the registry and of its supervisor. */
  logFile: string;
  /** Embedded mode: one line per request, rotated at 16 MiB (access.log.1 kept). */
  accessLog: string;
}

export function registryPaths(dir: string): RegistryPaths {
  const root = resolve(dir);
  const certsDir = join(root, 'certs');
  const privateDir = join(root, 'private');
  const authDir = join(root, 'auth');
  const runDir = join(root, 'run');
  return {
    dir: root,
    certsDir,
    caCert: join(certsDir, 'ca.crt'),
    privateDir,
    caKey: join(privateDir, 'ca.key'),
    serverCert: join(privateDir, 'server.crt'),
    serverKey: join(privateDir, 'server.key'),
    authDir,
    htpasswd: join(authDir, 'htpasswd'),
    credentials: join(authDir, 'credentials'),
    httpSecret: join(authDir, 'http-secret'),
    config: join(root, 'config.yml'),
    storage: join(root, 'storage'),
    binDir: join(root, 'bin'),
    runDir,
    pidFile: join(runDir, 'ag-registry.pid'),
    childFile: join(runDir, 'registry.json'),
    superviseFile: join(runDir, 'supervise.json'),
    stateFile: join(runDir, 'state.json'),
    logFile: join(root, 'registry.log'),
    accessLog: join(root, 'access.log'),
  };
}

/** Where ag-registry before this layout kept the keys and the server certificate: beside ca.crt in certs/. */
export function legacyCertificatePaths(paths: RegistryPaths): Array<{ from: string; to: string }> {
  return [
    { from: join(paths.certsDir, 'ca.key'), to: paths.caKey },
    { from: join(paths.certsDir, 'server.key'), to: paths.serverKey },
    { from: join(paths.certsDir, 'server.crt'), to: paths.serverCert },
  ];
}
