import { createHash } from 'node:crypto';
import { liveChild } from './child-record.js';
import { mkdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import {
  ExternalError,
  isExecutable,
  MissingError,
  OciLayout,
  pollUntil,
  SystemError,
  UsageError,
  writeFileAtomic,
  type Io,
  type Logger,
  type RegistryMode,
  type RegistryRunner,
  type RegistrySection,
} from '@ag/core';
import { ensureCertificates } from './certs.js';
import { DEFAULT_LISTEN } from './defaults.js';
import { loadImage, startContainer, type ContainerSpec, type RuntimeTarget } from './container-runtime.js';
import { ensureCredentials, ensureHttpSecret, readCredentials } from './credentials.js';
import { renderDistributionConfig } from './distribution-config.js';
import { formatHostPort, isWildcard, localConnectHost, parseHostPort, type HostPort } from './endpoint.js';
import { readOptional } from './files.js';
import { normalizeSubjectNames, type SubjectNames } from './host-names.js';
import { registryPaths, type RegistryPaths } from './paths.js';
import { probeRegistry, type RegistryTarget } from './probe.js';
import { extractRegistryBinary, findRegistryImage, locateRegistryBinary, type RegistryImage } from './registry-image.js';
import { isRunning, logTail, stopRunning } from './runner.js';
import { registrySection } from './section.js';
import { selfCommand } from './self-command.js';
import { readState, writeState, type RegistryState } from './state.js';
import { purgeStaleUploads } from './storage.js';
import { startSupervised, supervisorPid } from './supervisor.js';
import { installAndStart, renderUnit, systemdIsRunning } from './systemd.js';

export { DEFAULT_LISTEN } from './defaults.js';

export interface UpOptions {
  /** The registry directory (created if needed). */
  dir: string;
  /** ADDR:PORT to listen on (default 0.0.0.0:5000). */
  listen?: string;
  /** host:port clients use; default: the listen address when it is specific, else this host's name. */
  endpoint?: string;
  /** Default: distribution when a registry binary or the bundle's registry image is at hand, else embedded. */
  mode?: RegistryMode;
  /** distribution mode: use this binary instead of the one in the bundle's registry image. */
  registryBinary?: string;
  /** The registry image's reference in the layout (default: the distribution registry image found there). */
  registryImage?: string;
  /** The OCI layout (the bundle's images/): registry image source, and what embedded mode serves. */
  layout?: string;
  /** Names and addresses for a new server certificate (default: this host's). */
  hosts?: string[];
  ips?: string[];
  /** How distribution and embedded modes are kept running (auto: systemd when the host runs it). */
  init?: 'auto' | 'systemd' | 'process';
  /** Where the systemd unit goes (default /etc/systemd/system). */
  unitDir?: string;
  /** containerd mode: socket and namespace. */
  containerd?: { address?: string; namespace?: string };
  /** How long to wait for `/v2/` to answer (default 30 s). */
  timeoutMs?: number;
  dryRun?: boolean;
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
}

export interface PlannedStep {
  action: string;
  target?: string;
  command?: string[];
  why: string;
}

export interface UpResult {
  action: 'started' | 'restarted' | 'unchanged' | 'planned';
  section?: RegistrySection;
  plan?: { mode: RegistryMode; runner: RegistryRunner; endpoint: string; listen: string; steps: PlannedStep[] };
}

interface Prepared {
  mode: RegistryMode;
  /** The opened layout (container modes load the image from it). */
  store?: OciLayout;
  runner: RegistryRunner;
  /** What the supervisor or systemd runs (distribution, embedded). */
  argv?: string[];
  container?: { target: RuntimeTarget; spec: ContainerSpec; image: RegistryImage };
  server?: RegistryState['server'];
  configText?: string;
  layout?: string;
}

async function resolveMode(options: UpOptions): Promise<{ mode: RegistryMode; image?: RegistryImage }> {
  if (options.mode !== undefined) return { mode: options.mode };
  if (options.registryBinary !== undefined) return { mode: 'distribution' };
  if (options.layout !== undefined) {
    const image = await findRegistryImage(await OciLayout.open(options.layout), options.registryImage);
    return image !== undefined ? { mode: 'distribution', image } : { mode: 'embedded' };
  }
  throw new UsageError('no registry to run: no registry binary, no bundle layout', {
    hint: 'pass --registry-binary PATH, or the bundle document on stdin (or --layout DIR) so the registry image in the bundle is used, or --mode embedded --layout DIR',
  });
}

/** The endpoint clients use: explicit, else the specific listen address, else a certificate name, else this host's name. */
export function resolveEndpoint(listen: HostPort, options: { endpoint?: string; hosts?: string[] }): string {
  if (options.endpoint !== undefined) return formatHostPort(parseHostPort(options.endpoint, '--endpoint'));
  if (!isWildcard(listen.host)) return formatHostPort(listen);
  const name = options.hosts?.[0] ?? hostname().toLowerCase();
  return formatHostPort({ host: name, port: listen.port });
}

async function requireLayout(options: UpOptions, mode: RegistryMode): Promise<OciLayout> {
  if (options.layout === undefined) {
    throw new UsageError(`--mode ${mode} needs the bundle's OCI layout`, {
      hint: 'pipe the bundle document in (its images.layout is used), or pass --layout DIR (the images/ directory of an unpacked bundle)',
    });
  }
  const layout = await OciLayout.open(options.layout);
  await layout.readIndex();
  return layout;
}

async function portTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolveTaken) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolveTaken(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolveTaken(false);
    });
    socket.once('error', () => resolveTaken(false));
  });
}

function digestOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/**
 * Starts the internal registry and waits until it answers `/v2/` over TLS
 * with the generated credentials. Creates what it needs first: the CA and
 * server certificate, the htpasswd credentials, the distribution config or
 * the registry binary from the bundle's image. Idempotent: a registry that
 * runs with exactly this configuration and answers is left alone
 * (`unchanged`); one with another configuration is restarted.
 *
 * Deliberately never starts a registry without TLS or without authentication.
 */
export async function up(options: UpOptions): Promise<UpResult> {
  const { log, io } = options;
  const paths = registryPaths(options.dir);
  const listen = parseHostPort(options.listen ?? DEFAULT_LISTEN, '--listen');
  const explicitNames: SubjectNames | undefined =
    (options.hosts?.length ?? 0) + (options.ips?.length ?? 0) > 0 ? normalizeSubjectNames(options.hosts ?? [], options.ips ?? []) : undefined;
  const endpoint = resolveEndpoint(listen, { ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...(explicitNames ? { hosts: [...explicitNames.dns, ...explicitNames.ips] } : {}) });
  const endpointHost = parseHostPort(endpoint, 'endpoint').host;
  const { mode, image: foundImage } = await resolveMode(options);

  if (options.dryRun) return { action: 'planned', plan: await plan(options, paths, mode, listen, endpoint) };

  await mkdir(paths.dir, { recursive: true, mode: 0o755 });
  const certs = await ensureCertificates({
    dir: paths.dir,
    ...(explicitNames ? { names: explicitNames } : {}),
    require: [endpointHost, ...(isWildcard(listen.host) ? [] : [listen.host])],
    log,
  });
  const credentials = await ensureCredentials(paths.dir);
  if (credentials.action === 'created') log.info(`generated credentials for user ${credentials.username} in ${credentials.credentialsFile} (mode 0600)`);

  const prepared = await prepare(options, paths, mode, foundImage, listen);
  const htpasswd = await readFile(paths.htpasswd, 'utf8');
  const configDigest = digestOf({
    mode: prepared.mode,
    runner: prepared.runner,
    endpoint,
    listen: formatHostPort(listen),
    argv: prepared.argv,
    container: prepared.container ? { target: prepared.container.target, spec: prepared.container.spec } : undefined,
    config: prepared.configText,
    server: prepared.server,
    cert: certs.server.sha256,
    ca: certs.ca.sha256,
    htpasswd,
    layout: prepared.layout,
  });
  const target: RegistryTarget = {
    endpoint,
    connectHost: localConnectHost(listen),
    ca: await readFile(paths.caCert, 'utf8'),
    credentials: await readCredentials(paths.credentials),
  };

  const previous = await readState(paths);
  const running = await isRunning(paths, previous, io);
  let action: UpResult['action'] = 'started';
  if (running && previous !== undefined) {
    const probe = await probeRegistry(target);
    if (previous.configDigest === configDigest && probe.authenticated) {
      log.info(`the registry at ${endpoint} already runs with this configuration (${previous.mode}, ${previous.runner}); nothing to do`);
      return { action: 'unchanged', section: registrySection(paths, certs, credentials, previous) };
    }
    log.info(
      previous.configDigest !== configDigest
        ? `the registry at ${previous.endpoint} runs with another configuration; restarting it`
        : `the registry at ${previous.endpoint} runs but does not answer (${probe.error ?? `status ${probe.status}`}); restarting it`,
    );
    await stopRunning(paths, previous, io);
    action = 'restarted';
  } else if (running || (await supervisorPid(paths)) !== undefined) {
    await stopRunning(paths, previous, io);
  } else {
    const orphan = await liveChild(paths);
    if (orphan !== undefined) {
      log.info(`the registry process ${orphan.pid} runs without its supervisor (it was killed); replacing it`);
      await stopRunning(paths, previous, io);
      action = 'restarted';
    }
  }
  if (await portTaken(localConnectHost(listen), listen.port)) {
    throw new SystemError(`${formatHostPort(listen)} is already in use by another program`, {
      hint: 'stop it, or choose another address with --listen ADDR:PORT',
    });
  }

  const state: RegistryState = {
    mode: prepared.mode,
    runner: prepared.runner,
    endpoint,
    listen: formatHostPort(listen),
    configDigest,
    startedAt: new Date().toISOString(),
    ...(prepared.layout ? { layout: prepared.layout } : {}),
    ...(prepared.server ? { server: prepared.server } : {}),
  };
  if (prepared.mode !== 'embedded') {
    // Nothing serves the storage now: every partial upload is stale (a push that failed, a full disk).
    const purged = await purgeStaleUploads(paths.storage, 0);
    if (purged > 0) log.info(`removed ${purged} stale partial upload(s) from ${paths.storage}`);
  }
  await start(options, paths, prepared, state);
  // The state is written before waiting: if the wait fails, down still finds what was started.
  await writeState(paths, state);
  await waitUntilAnswering(options, paths, state, target);
  log.info(`registry ${action === 'restarted' ? 'restarted' : 'started'} at https://${endpoint} (${state.mode}, ${state.runner})`);
  return { action, section: registrySection(paths, certs, credentials, state) };
}

async function prepare(options: UpOptions, paths: RegistryPaths, mode: RegistryMode, foundImage: RegistryImage | undefined, listen: HostPort): Promise<Prepared> {
  const init = options.init ?? 'auto';
  const hostRunner: RegistryRunner = init === 'systemd' || (init === 'auto' && systemdIsRunning()) ? 'systemd' : 'process';
  if (mode === 'embedded') {
    const { dir: layout } = await requireLayout(options, mode);
    return {
      mode,
      runner: hostRunner,
      layout,
      argv: [...selfCommand(), 'serve-embedded', '--state-dir', paths.dir, '--layout', layout, '--listen', formatHostPort(listen)],
    };
  }
  const configText = renderDistributionConfig({
    listen: formatHostPort(listen),
    storageDir: paths.storage,
    serverCert: paths.serverCert,
    serverKey: paths.serverKey,
    htpasswd: paths.htpasswd,
    httpSecret: await ensureHttpSecret(paths.dir),
  });
  if ((await readOptional(paths.config)) !== configText) await writeFileAtomic(paths.config, configText, { mode: 0o600 });
  await mkdir(paths.storage, { recursive: true, mode: 0o700 });

  if (mode === 'distribution') {
    if (options.registryBinary !== undefined) {
      if (!(await isExecutable(options.registryBinary))) {
        throw new MissingError(`--registry-binary ${options.registryBinary} is not an executable file`, {
          hint: 'pass the path of the distribution registry binary (Debian: /usr/bin/docker-registry)',
        });
      }
      return { mode, runner: hostRunner, configText, argv: [options.registryBinary, 'serve', paths.config], server: { binary: options.registryBinary } };
    }
    const layout = await requireLayout(options, mode);
    const image = foundImage ?? (await findRegistryImage(layout, options.registryImage));
    if (image === undefined) {
      throw new MissingError(`the layout ${layout.dir} holds no distribution registry image`, {
        hint: 'carry docker.io/library/registry in the bundle, pass --registry-binary PATH, or use --mode embedded',
      });
    }
    const binary = await extractRegistryBinary(layout, image, paths.binDir);
    options.log.info(`${binary.action === 'kept' ? 'using' : 'extracted'} the registry binary /${binary.imagePath} of ${binary.image} at ${binary.path}`);
    return {
      mode,
      runner: hostRunner,
      configText,
      argv: [binary.path, 'serve', paths.config],
      server: { binary: binary.path, binarySha256: binary.sha256, image: binary.image, imageDigest: binary.manifestDigest },
    };
  }

  // containerd, docker, podman: the registry image itself, with the registry directory mounted at the same path.
  const layout = await requireLayout(options, mode);
  const image = foundImage ?? (await findRegistryImage(layout, options.registryImage));
  if (image === undefined) {
    throw new MissingError(`--mode ${mode} needs the registry image, and the layout ${layout.dir} holds none`, {
      hint: 'carry docker.io/library/registry in the bundle (or name it with --registry-image), or use --mode distribution --registry-binary PATH',
    });
  }
  const located = await locateRegistryBinary(layout, image);
  const target: RuntimeTarget = {
    runtime: mode,
    ...(mode === 'containerd' ? { address: options.containerd?.address, namespace: options.containerd?.namespace } : {}),
  };
  if (target.address === undefined) delete target.address;
  if (target.namespace === undefined) delete target.namespace;
  return {
    mode,
    runner: mode,
    configText,
    layout: layout.dir,
    store: layout,
    container: {
      target,
      image,
      spec: { image: image.ref, binary: `/${located.path}`, configFile: paths.config, dir: paths.dir, logFile: paths.logFile },
    },
    server: { image: image.ref, imageDigest: located.manifest.digest },
  };
}

async function start(options: UpOptions, paths: RegistryPaths, prepared: Prepared, state: RegistryState): Promise<void> {
  const { io, log } = options;
  if (prepared.container !== undefined) {
    const { target, spec, image } = prepared.container;
    await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
    log.info(`loading ${image.ref} into ${target.runtime}`);
    await loadImage(target, prepared.store!, image, paths.runDir, io);
    await startContainer(target, spec, io);
    state.container = target;
    return;
  }
  const argv = prepared.argv!;
  if (prepared.runner === 'systemd') {
    const unit = renderUnit({ description: `ag internal registry (${prepared.mode}) at ${state.endpoint}`, argv, dir: paths.dir });
    const path = await installAndStart(unit, { io, ...(options.unitDir ? { unitDir: options.unitDir } : {}) });
    if (options.unitDir) state.unitDir = options.unitDir;
    log.info(`installed and started ${path}`);
    return;
  }
  const pid = await startSupervised(paths, { argv, cwd: paths.dir });
  log.debug(`supervisor started (pid ${pid}); log ${paths.logFile}`);
}

async function waitUntilAnswering(options: UpOptions, paths: RegistryPaths, state: RegistryState, target: RegistryTarget): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  let attempts = 0;
  try {
    await pollUntil(
      async (note) => {
        const probe = await probeRegistry(target, 2_000);
        if (probe.authenticated) return true;
        note(probe.error ?? `status ${probe.status}`);
        if (probe.tlsError) throw new ExternalError(`the registry answers, but its TLS does not verify: ${probe.error}`);
        if (probe.answered && probe.status === 401) throw new ExternalError('the registry refuses the generated credentials (401)');
        if (state.runner === 'process' && (await supervisorPid(paths)) === undefined) throw new ExternalError('the supervisor exited');
        // A container that exits at once would only be restarted (and fail) again: look every second, not every poll.
        attempts += 1;
        if (state.container !== undefined && attempts % 10 === 0 && !(await isRunning(paths, state, options.io))) {
          throw new ExternalError(`the ${state.runner} container exited`);
        }
        return undefined;
      },
      { what: `the registry to answer https://${state.endpoint}/v2/`, timeoutMs, intervalMs: 100 },
    );
  } catch (error) {
    const tail = await logTail(paths.logFile);
    await stopRunning(paths, state, options.io).catch(() => undefined);
    throw new ExternalError(`starting the registry (${state.mode}) at ${state.endpoint}: ${(error as Error).message}${tail ? `\nlast lines of ${paths.logFile}:\n${tail}` : ''}`, {
      cause: error,
      hint: `read ${paths.logFile}; fix what it says (a port in use, a bad path), then run ag-registry up again`,
    });
  }
}

async function plan(options: UpOptions, paths: RegistryPaths, mode: RegistryMode, listen: HostPort, endpoint: string): Promise<NonNullable<UpResult['plan']>> {
  const init = options.init ?? 'auto';
  const runner: RegistryRunner =
    mode === 'containerd' || mode === 'docker' || mode === 'podman' ? mode : init === 'systemd' || (init === 'auto' && systemdIsRunning()) ? 'systemd' : 'process';
  const exists = async (path: string) => (await readOptional(path)) !== undefined;
  const steps: PlannedStep[] = [];
  steps.push(
    (await exists(paths.caCert))
      ? { action: 'keep', target: paths.caCert, why: 'the CA exists (nodes trust it)' }
      : { action: 'write-file', target: paths.caCert, why: 'create a CA (its key 0600 in private/ca.key)' },
  );
  steps.push({ action: 'check-or-write-file', target: paths.serverCert, why: `a server certificate covering ${endpoint} (kept when valid)` });
  steps.push(
    (await exists(paths.credentials))
      ? { action: 'keep', target: paths.credentials, why: 'credentials exist' }
      : { action: 'write-file', target: paths.credentials, why: 'generate credentials (htpasswd with bcrypt, both 0600)' },
  );
  if (mode !== 'embedded') steps.push({ action: 'write-file', target: paths.config, why: 'distribution config: TLS, htpasswd, storage, deletes disabled' });
  if (mode === 'distribution' && options.registryBinary === undefined) {
    steps.push({ action: 'extract-file', target: `${paths.binDir}/registry`, why: "the registry binary from the bundle's registry image" });
  }
  if (runner === 'systemd') steps.push({ action: 'write-file', target: `${options.unitDir ?? '/etc/systemd/system'}/ag-registry.service`, why: 'a unit that restarts it and starts at boot' });
  steps.push({ action: 'start', why: `run the ${mode} registry (${runner}) listening on ${formatHostPort(listen)}, then wait for https://${endpoint}/v2/` });
  return { mode, runner, endpoint, listen: formatHostPort(listen), steps };
}
