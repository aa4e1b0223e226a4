import type { Argv } from 'yargs';
import {
  argBoolean as bool,
  argString as str,
  argStrings as strings,
  bundleRoot,
  formatRegistryTarget,
  ExitCode,
  newDocument,
  parseDuration,
  parseSize,
  processIo,
  readDocument,
  resolveInRoot,
  runTool,
  sharedOption,
  type AgDocument,
  type CommandContext,
  type Io,
  type RegistryMode,
  type RegistrySection,
} from '@ag/core';
import { resolve } from 'node:path';
import { DEFAULT_CONTAINERD_ADDRESS, DEFAULT_LISTEN, DEFAULT_NAMESPACE } from './defaults.js';
import { normalizeSubjectNames } from './host-names.js';
import { DEFAULT_UPSTREAMS } from './hosts-toml.js';
import { DEFAULT_REGISTRY_DIR, registryPaths } from './paths.js';
import { certificatesPart } from './section.js';
import { summaries } from './summary.js';

export const VERSION = '0.1.0';

type Context = CommandContext<Record<string, unknown>>;




async function optionalDocument(context: Context): Promise<AgDocument | undefined> {
  return readDocument(context.io, { required: false, inPath: context.args.in });
}

/** --state-dir, else the directory the document's registry section names, else /var/lib/ag-registry. */
function registryDir(context: Context, document: AgDocument | undefined): string {
  const flag = str(context.args, 'state-dir');
  if (flag !== undefined) return resolve(context.io.cwd, flag);
  return document?.registry?.dir ?? DEFAULT_REGISTRY_DIR;
}

/** The bundle's OCI layout: --layout, else the document's images.layout under its bundle root. */
function layoutPath(context: Context, document: AgDocument | undefined): string | undefined {
  const flag = str(context.args, 'layout');
  if (flag !== undefined) return resolve(context.io.cwd, flag);
  if (document?.images?.layout === undefined) return undefined;
  return resolveInRoot(bundleRoot(document, undefined, context.io.cwd), document.images.layout);
}

function emit(context: Context, document: AgDocument, registry: RegistrySection | undefined): void {
  const out: AgDocument = { ...document };
  if (registry !== undefined) out.registry = registry;
  context.emit(out);
}

export const handlers: Record<string, (context: Context) => Promise<number | void>> = {
  async certs(context) {
    const { ensureCertificates } = await import('./certs.js');
    const { args, log } = context;
    const document = (await optionalDocument(context)) ?? newDocument();
    const dir = registryDir(context, document);
    const hosts = strings(args, 'host');
    const ips = strings(args, 'ip');
    const names = hosts.length + ips.length > 0 ? normalizeSubjectNames(hosts, ips) : undefined;
    if (args['dry-run'] === true) {
      context.reportPlanned([{ action: 'ensure-certificates', target: registryPaths(dir).certsDir, names: names ?? 'this host', renew: args['renew'] === true }]);
      emit(context, document, undefined);
      return;
    }
    const result = await ensureCertificates({ dir, ...(names ? { names } : {}), renew: args['renew'] === true, log });
    if (result.serverAction === 'kept') log.info(`the server certificate is valid until ${result.server.notAfter} and covers ${result.sans.join(', ')}; kept`);
    emit(context, document, { ...(document.registry ?? {}), dir: registryPaths(dir).dir, caFile: result.ca.path, certificates: certificatesPart(result) });
  },

  async up(context) {
    const { up } = await import('./up.js');
    const { args, io, log } = context;
    const document = (await optionalDocument(context)) ?? newDocument();
    const timeout = str(args, 'timeout');
    const result = await up({
      dir: registryDir(context, document),
      listen: str(args, 'listen') ?? DEFAULT_LISTEN,
      ...(str(args, 'endpoint') ? { endpoint: str(args, 'endpoint') } : {}),
      ...(str(args, 'mode') ? { mode: str(args, 'mode') as RegistryMode } : {}),
      ...(str(args, 'registry-binary') ? { registryBinary: resolve(io.cwd, str(args, 'registry-binary')!) } : {}),
      ...(str(args, 'registry-image') ? { registryImage: str(args, 'registry-image') } : {}),
      ...(layoutPath(context, document) ? { layout: layoutPath(context, document) } : {}),
      hosts: strings(args, 'host'),
      ips: strings(args, 'ip'),
      init: (str(args, 'init') ?? 'auto') as 'auto' | 'systemd' | 'process',
      ...(str(args, 'unit-dir') ? { unitDir: resolve(io.cwd, str(args, 'unit-dir')!) } : {}),
      containerd: { address: str(args, 'containerd-address') ?? DEFAULT_CONTAINERD_ADDRESS, namespace: str(args, 'namespace') ?? DEFAULT_NAMESPACE },
      ...(timeout ? { timeoutMs: parseDuration(timeout) } : {}),
      dryRun: args['dry-run'] === true,
      io,
      log,
    });
    // `steps` stays the name scripts read; `actions` is what every stage's dry run says.
    if (result.plan) context.reportPlanned(result.plan.steps, result.plan);
    emit(context, document, result.section);
  },

  async down(context) {
    const { down } = await import('./down.js');
    const document = await optionalDocument(context);
    const result = await down({ dir: registryDir(context, document), dryRun: context.args['dry-run'] === true, io: context.io, log: context.log });
    if (result.action === 'planned') context.reportPlanned([{ action: 'stop', runner: result.runner ?? 'none running' }]);
    if (document !== undefined) emit(context, document, undefined);
  },

  async status(context) {
    const [{ status }, { documentAndPassword, externalStatusCommand }] = await Promise.all([import('./status.js'), import('./external-registry.js')]);
    // A registry the site runs: --registry names it, or the document's section says ag did not start it.
    if (str(context.args, 'registry') !== undefined || context.args['password-stdin'] === true) {
      const { document, password } = await documentAndPassword(context);
      return externalStatusCommand(context, document, password);
    }
    const document = (await optionalDocument(context)) ?? newDocument();
    if (document.registry?.external === true && str(context.args, 'state-dir') === undefined) return externalStatusCommand(context, document, undefined);
    const dir = registryDir(context, document);
    const minFree = str(context.args, 'min-free');
    const { status: found, state, tlsFailed, credentialsRefused } = await status({
      dir,
      ...(minFree !== undefined ? { minFreeBytes: parseSize(minFree, '--min-free') } : {}),
      gc: context.args['gc'] === true,
      io: context.io,
      log: context.log,
    });
    if (found.storage?.purgedUploads !== undefined) context.log.info(`removed ${found.storage.purgedUploads} stale partial upload(s) from ${found.storage.path}`);
    if (found.storage?.warning !== undefined) context.log.warn(found.storage.warning);
    const paths = registryPaths(dir);
    const base: RegistrySection = document.registry ?? {
      dir: paths.dir,
      caFile: paths.caCert,
      credentialsFile: paths.credentials,
      ...(state ? { endpoint: state.endpoint, mode: state.mode, runner: state.runner, listen: state.listen } : {}),
    };
    emit(context, document, { ...base, status: found });
    const what = state ? `${state.mode} registry at ${state.endpoint}` : `registry of ${paths.dir}`;
    if (found.supervised === false && found.running) {
      context.log.error(
        `the ${what} ${found.answering ? 'answers' : 'runs'}, but unsupervised: its supervisor died (killed?) and nothing restarts it; see ${paths.logFile}`,
      );
      context.log.error(`next: ag-registry up --dir ${paths.dir} replaces it with a supervised one; ag-registry down --dir ${paths.dir} stops it`);
      return ExitCode.system;
    }
    if (found.answering && found.tls.valid) {
      context.log.info(`the ${what} is up: TLS valid, ${found.repositories ?? '?'} repositories, ${found.blobs ?? '?'} blobs`);
      return ExitCode.ok;
    }
    if (tlsFailed) {
      context.log.error(`the ${what} answers, but its TLS is not valid: ${found.tls.error}`);
      return ExitCode.verification;
    }
    if (credentialsRefused) {
      context.log.error(`the ${what} answers, but refuses the credentials of ${paths.credentials} (401)`);
      context.log.error(`next: the running registry checks another htpasswd than ${paths.htpasswd}, or that file changed: run ag-registry up --state-dir ${paths.dir} again (it refuses a pair that does not match)`);
      return ExitCode.credentials;
    }
    context.log.error(`the ${what} is down${found.running ? ' (it runs but does not answer)' : ''}: ${found.error ?? 'no answer'}`);
    return ExitCode.unreachable;
  },

  async trust(context) {
    const [{ documentUpstreams, trust }, { caFileFor, documentAndPassword, recordTarget, targetFrom, trustCredentials }] = await Promise.all([import('./trust.js'), import('./external-registry.js')]);
    const { args, log } = context;
    const { document, password } = await documentAndPassword(context);
    const { target, fromFlag } = targetFrom(context, document, 'trust');
    const caFile = caFileFor(context, document, target);
    if (caFile === undefined) log.info(`no CA file for ${target.host} (--ca-file): containerd checks its certificate against the system trust store`);
    const { credentialsFile, credentials } = await trustCredentials(context, document, target, fromFlag, password);
    if (credentials !== undefined) log.info(`containerd's pulls from ${target.host} carry the credentials of ${JSON.stringify(credentials.username)} (${credentials.source})`);
    const docker = bool(args, 'docker');
    const podman = bool(args, 'podman');
    const result = await trust({
      endpoint: formatRegistryTarget(target),
      ...(caFile !== undefined ? { caFile } : {}),
      ...(credentialsFile ? { credentialsFile } : {}),
      ...(credentials ? { credentials } : {}),
      upstreams: [...documentUpstreams(document), ...strings(args, 'upstream')],
      root: resolve(context.io.cwd, str(args, 'root') ?? '/'),
      ...(str(args, 'certs-dir') ? { certsDir: resolve(context.io.cwd, str(args, 'certs-dir')!) } : {}),
      ...(docker !== undefined ? { docker } : {}),
      ...(podman !== undefined ? { podman } : {}),
      dryRun: args['dry-run'] === true,
      log,
    });
    if (args['dry-run'] === true) context.reportPlanned(result.files.map((f) => ({ action: 'write-file', target: f.path, mode: f.mode, why: f.why })));
    for (const file of result.files) log.debug(`${file.action}: ${file.path} (${file.mode})`);
    // The registry's place is recorded so that push, kubeadm's internal repository and flannel's pins agree.
    if (document !== undefined) emit(context, document, fromFlag ? recordTarget(document, target, { ...(caFile ? { caFile } : {}), ...(credentialsFile ? { credentialsFile } : {}) }) : undefined);
  },

  async 'serve-embedded'(context) {
    const { serveEmbedded } = await import('./serve-embedded.js');
    const { args, log } = context;
    await serveEmbedded({ dir: str(args, 'state-dir') ?? DEFAULT_REGISTRY_DIR, layout: str(args, 'layout')!, listen: str(args, 'listen') ?? DEFAULT_LISTEN, log });
  },

  async supervise(context) {
    const { runSupervisor } = await import('./supervisor.js');
    await runSupervisor(registryPaths(str(context.args, 'state-dir') ?? DEFAULT_REGISTRY_DIR));
  },
};

const credentialOptions = {
  // No requiresArg: --no-credentials-file means none.
  'credentials-file': sharedOption('credentials-file', "ag-registry's, or the site's robot or service account (default: the document's registry.credentialsFile, else the docker/podman auth files; --no-credentials-file: none)", { requiresArg: false }),
  username: { type: 'string', describe: 'the account, its password from --password-stdin (the document then comes from --in FILE)', requiresArg: true },
  'password-stdin': { type: 'boolean', default: false, describe: 'read the password for --username from stdin' },
} as const;

const stateDirOption = sharedOption('state-dir', `the registry's certificates, credentials, config and storage (default: the document's, else ${DEFAULT_REGISTRY_DIR})`);
const dryRunOption = { type: 'boolean', default: false, describe: 'print the actions as JSON on stderr and change nothing' } as const;

function configure(parser: Argv): Argv {
  return parser
    .usage(
      '$0 <command> [options] [< document.json] > document.json\n\nThe internal registry of an air-gapped site: a CA and server certificate, htpasswd credentials, and a registry that speaks only TLS with authentication.',
    )
    .command('certs', 'create the CA and a server certificate (kept while valid; --renew renews, keeping the CA)', (y) =>
      y
        .option('state-dir', stateDirOption)
        .option('host', { type: 'string', array: true, describe: 'a DNS name the certificate covers (repeatable; default: this host\'s names)', requiresArg: true })
        .option('ip', { type: 'string', array: true, describe: 'an IP address the certificate covers (repeatable; default: this host\'s addresses)', requiresArg: true })
        .option('renew', { type: 'boolean', default: false, describe: 'issue a new server certificate and key from the same CA' })
        .option('dry-run', dryRunOption),
    )
    .command('up', 'start the registry and wait until it answers /v2/', (y) =>
      y
        .option('state-dir', stateDirOption)
        .option('listen', { type: 'string', default: DEFAULT_LISTEN, describe: 'ADDR:PORT to listen on', requiresArg: true })
        .option('endpoint', { type: 'string', describe: 'HOST:PORT clients use (default: the listen address if specific, else --host or this host\'s name)', requiresArg: true })
        .option('mode', {
          choices: ['distribution', 'containerd', 'docker', 'podman', 'embedded'] as const,
          describe: 'what serves it (default: distribution when a registry binary or the bundle\'s registry image is at hand, else embedded)',
        })
        .option('registry-binary', { type: 'string', describe: 'distribution mode: this registry binary instead of the one in the bundle\'s registry image', requiresArg: true })
        .option('registry-image', { type: 'string', describe: 'the registry image in the layout (default: docker.io/library/registry found there)', requiresArg: true })
        .option('layout', sharedOption('layout', "(default: the document's images.layout under its bundle root)"))
        .option('host', { type: 'string', array: true, describe: 'a DNS name for the server certificate (repeatable)', requiresArg: true })
        .option('ip', { type: 'string', array: true, describe: 'an IP address for the server certificate (repeatable)', requiresArg: true })
        .option('init', { choices: ['auto', 'systemd', 'process'] as const, default: 'auto', describe: 'how distribution and embedded modes are kept running (auto: systemd when it runs this host)' })
        .option('unit-dir', { type: 'string', describe: 'where the systemd unit is written (default /etc/systemd/system)', requiresArg: true, hidden: true })
        .option('containerd-address', sharedOption('containerd-address', '(containerd mode)', { default: DEFAULT_CONTAINERD_ADDRESS }))
        .option('namespace', { type: 'string', default: DEFAULT_NAMESPACE, describe: 'containerd mode: the containerd namespace', requiresArg: true })
        .option('timeout', { type: 'string', default: '30s', describe: 'how long to wait for /v2/ to answer', requiresArg: true })
        .option('dry-run', dryRunOption),
    )
    .command('down', 'stop the registry (storage, certificates and credentials stay)', (y) => y.option('state-dir', stateDirOption).option('dry-run', dryRunOption))
    .command('status', 'is it up, is its TLS valid, how many repositories and blobs, how much free space (exit 0 up, 3 TLS invalid, 4 down, 6 running unsupervised, 8 credentials refused); with --registry, a registry the site runs', (y) =>
      y
        .option('state-dir', stateDirOption)
        .option('min-free', { type: 'string', describe: 'warn when the storage has less free space than this (default 1G)', requiresArg: true })
        .option('gc', { type: 'boolean', default: false, describe: 'remove partial uploads a failed push left (not written to for 10 min; all when the registry is down)' })
        .option('registry', sharedOption('registry', "one ag did not start: is it reachable, its TLS valid (until when), the credentials accepted, which of the bundle's images are there (exit 5 when some are not)"))
        .option('ca-file', sharedOption('ca-file', '(with --registry; default: the system trust store)'))
        .options(credentialOptions),
    )
    .command('trust', 'write what a node needs to trust and use the registry: containerd certs.d (CA, hosts.toml mirrors), docker and podman CAs', (y) =>
      y
        .option('root', sharedOption('root', 'write under this directory instead of / (a node image, a chroot)', { default: '/' }))
        .option('registry', sharedOption('registry', "containerd pulls <upstream>/<path> from https://<host>/v2/<prefix>/<upstream>/<path> (default: the document's registry); recorded in the document"))
        .option('ca-file', sharedOption('ca-file', "(default: the document's registry.caFile, else the system trust store)"))
        .options(credentialOptions)
        .option('upstream', { type: 'string', array: true, describe: `another upstream registry to mirror (always: ${DEFAULT_UPSTREAMS.join(', ')} and those the document names)`, requiresArg: true })
        .option('certs-dir', { type: 'string', describe: 'containerd\'s certs.d (default <root>/etc/containerd/certs.d)', requiresArg: true })
        .option('docker', { type: 'boolean', describe: 'write docker\'s CA file (default: when <root>/etc/docker exists)' })
        .option('podman', { type: 'boolean', describe: 'write podman\'s CA file and mirrors (default: when <root>/etc/containers exists)' })
        .option('dry-run', dryRunOption),
    )
    .command('serve-embedded', false, (y) =>
      y.option('state-dir', stateDirOption).option('layout', sharedOption('layout', undefined, { demandOption: true })).option('listen', { type: 'string', default: DEFAULT_LISTEN, requiresArg: true }),
    )
    .command('supervise', false, (y) => y.option('state-dir', stateDirOption))
    .example('ag-registry certs --state-dir /var/lib/ag-registry --host registry.example --ip 10.0.0.5', 'a CA and a server certificate for that name and address')
    .example('ag-bundle unpack bundle.tar --dir /srv/bundle | ag-registry up --state-dir /var/lib/ag-registry > doc.json', 'the distribution registry from the bundle\'s registry image')
    .example('ag-registry up --state-dir /tmp/reg --listen 127.0.0.1:5000 --registry-binary /usr/bin/docker-registry', 'a registry from an installed binary')
    .example('ag-registry up --mode embedded --layout /srv/bundle/images --listen 0.0.0.0:5000 < doc.json', 'serve the bundle\'s images read-only, with no second copy')
    .example('ag-registry trust < doc.json', 'on each node: containerd pulls registry.k8s.io, docker.io… from the internal registry')
    .example('ag-registry status --state-dir /var/lib/ag-registry | jq .registry.status', 'is it up, TLS valid, how many repositories and blobs')
    .example('ag-registry trust --registry harbor.example/k8s --ca-file site-ca.crt --credentials-file robot-pull < doc.json > doc2.json', "on each node: pull through the site's Harbor project k8s; the document records it")
    .example('ag-registry status --registry harbor.example/k8s < bundle.json', "which of the bundle's images the site's registry has (exit 5 naming those it lacks)")
    .epilog(
      'The credentials file (registry.credentialsFile, mode 0600) holds one line, username:password: skopeo --creds "$(cat FILE)", curl -u "$(cat FILE)".',
    );
}

/** The ag-registry command line, in-process: returns the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool({ name: 'ag-registry', version: VERSION, configure, handlers, summaries }, argv, io);
}
