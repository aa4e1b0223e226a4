import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import {
  argString as str, argStrings as strings,
  OciLayout,
  parseDuration,
  UsageError,
  bundleRoot,
  findCredentials,
  formatRegistryTarget,
  parseRegistryTarget,
  registryTargetOf,
  sameRegistryTarget,
  gcLayout,
  formatBytes,
  parseReference,
  processIo,
  readDocument,
  resolveInRoot,
  runTool,
  sharedOption,
  MIRROR_SYNTAX,
  type AgDocument,
  type CommandContext,
  type Io,
} from '@ag/core';
import { Connections, readPasswordFromStdin, type ConnectionOptions } from './connection.js';
import { explainOwnRegistryFailure } from './own-registry-failure.js';
import { layoutDirFor, layoutInDocument, platformStrings, platformsFor, withImages } from './document.js';
import { DEFAULT_CONTAINERD_ADDRESS, importImages } from './import.js';
import { parseMirror, sourceFor } from './sources.js';
import { summaries } from './summary.js';

export const VERSION = '0.1.0';

type Context = CommandContext<Record<string, unknown>>;
type Args = Context['args'];



function positionalRefs(args: Args): string[] {
  return strings(args, 'refs');
}

function layoutOption(y: Argv): Argv {
  return y.option('layout', sharedOption('layout', "(default: images/ under the document's bundle root)"));
}

function connectionOptions(y: Argv): Argv {
  return y
    .option('ca-file', sharedOption('ca-file', '(besides the system roots; repeatable)', { array: true }))
    .option('certs-dir', {
      type: 'string',
      array: true,
      describe: 'where per-registry <host[:port]>/ca.crt (and client .cert/.key) live (default /etc/docker/certs.d and /etc/containers/certs.d)',
      requiresArg: true,
    })
    .option('insecure-skip-tls-verify', { type: 'boolean', default: false, describe: 'accept any TLS certificate (tests only: anyone in the path can then serve you anything but digests)' })
    .option('plain-http', { type: 'boolean', default: false, describe: 'speak plain HTTP to the registry (only if it serves no TLS)' })
    .option('username', { type: 'string', describe: 'the user for the registry; the password comes from --password-stdin or --credentials-file', requiresArg: true })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from stdin (then pass the document with --in FILE)' })
    .option('credentials-file', sharedOption('credentials-file', '(as ag-registry writes it)'))
    .option('retries', { type: 'number', default: 4, describe: 'further attempts after a network failure, 429 or 5xx', requiresArg: true })
    .option('retry-window', { type: 'string', default: '30s', describe: 'how long a refused connection is retried (a registry restarting) before giving up', requiresArg: true })
    .option('concurrency', { type: 'number', default: 4, describe: 'blobs transferred at once', requiresArg: true })
    .group(['ca-file', 'certs-dir', 'insecure-skip-tls-verify', 'plain-http', 'username', 'password-stdin', 'credentials-file', 'retries', 'retry-window', 'concurrency'], 'Connection:');
}

function configure(parser: Argv): Argv {
  return parser
    .usage(
      '$0 <command> [options] [< document.json > document.json]\n\n' +
        'Copies container images between registries and one OCI image layout, digests exact: pull by platform, push to the internal registry, list, verify, import into containerd.',
    )
    .command('pull [refs..]', 'copy images from their registries into the layout', (y) =>
      connectionOptions(layoutOption(y))
        .positional('refs', { type: 'string', describe: "image references (added to the document's fetch.images, if one is piped in)" })
        .option('platform', { type: 'string', array: true, describe: 'os/arch[/variant][:os.version] to keep (repeatable; default: the document\'s architectures, else the host\'s)', requiresArg: true })
        .option('all-platforms', { type: 'boolean', default: false, describe: "keep every platform: the stored index is upstream's, byte for byte" })
        .option('subset-pinned', {
          type: 'boolean',
          default: false,
          describe: 'keep only --platform\'s platforms of an image pinned by its index digest (…@sha256:) too; it then gets a new digest the far side serves instead (default: such an index is kept whole)',
        })
        .option('allow-nondistributable-artifacts', { type: 'boolean', default: false, describe: 'fetch foreign (Windows base) layers from their URLs instead of leaving them as references' })
        .option('with-referrers', {
          type: 'boolean',
          default: false,
          describe:
            "also carry the images' signatures and SBOMs published as OCI referrers (push restores them). Off by default: each image then costs extra requests, and referrers are content you should mean to trust",
        })
        .option('mirror', sharedOption('mirror', MIRROR_SYNTAX, { array: true }))
        .option('fsync', { type: 'boolean', default: true, describe: 'flush each blob to disk before naming it (--no-fsync for scratch layouts)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'resolve the images and print what would be fetched (JSON on stderr); write nothing' }),
    )
    .command('push [refs..]', 'push images from the layout to the internal registry as <registry>[/<prefix>]/<upstream host>/<path>:<tag>', (y) =>
      connectionOptions(layoutOption(y))
        .positional('refs', { type: 'string', describe: 'full references of images in the layout (default: the document\'s images, else all)' })
        .option('registry', sharedOption('registry', "images go to <host>/<prefix>/<upstream host>/<path> (default: the document's registry.endpoint and registry.prefix)"))
        .option('allow-nondistributable-artifacts', { type: 'boolean', default: false, describe: 'push foreign layers too (the registry must accept them)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'ask the registry what it has and print what would be sent (JSON on stderr); send nothing' }),
    )
    .command('list', 'list the images in the layout', (y) =>
      layoutOption(y),
    )
    .command('verify', 're-hash every blob and check every manifest\'s references (exit 3 naming the digest when anything is wrong)', (y) =>
      layoutOption(y)
        .option('quick', { type: 'boolean', default: false, describe: 'check structure and sizes only, without re-hashing' })
        .option('repair', { type: 'boolean', default: false, describe: 'delete blobs whose content does not match their name, so the next pull fetches them again' }),
    )
    .command('gc', 'delete the blobs no image in the layout needs any more (after tags moved), and stale partial downloads', (y) =>
      layoutOption(y).option('dry-run', { type: 'boolean', default: false, describe: 'report what would be deleted (JSON on stderr); delete nothing' }),
    )
    .command('import [refs..]', "load images from the layout into containerd (ctr images import), for hosts without a registry", (y) =>
      layoutOption(y)
        .positional('refs', { type: 'string', describe: 'full references (default: the document\'s images, else all)' })
        .option('containerd-address', sharedOption('containerd-address', undefined, { default: DEFAULT_CONTAINERD_ADDRESS }))
        .option('namespace', { type: 'string', default: 'k8s.io', describe: 'containerd namespace (k8s.io is where the kubelet looks)', requiresArg: true })
        .option('platform', { type: 'string', describe: 'import content for this platform (default: the host\'s)', requiresArg: true })
        .option('all-platforms', { type: 'boolean', default: false, describe: 'import content for every platform' })
        .option('ctr', { type: 'string', default: 'ctr', describe: 'the ctr binary', requiresArg: true })
        .option('dry-run', { type: 'boolean', default: false, describe: 'print the ctr command and what it would import; import nothing' }),
    )
    .example('ag-fetch plan … | ag-images pull > plan.json', "pull the plan's images into images/ under its bundle root, for its architectures")
    .example('ag-images pull registry.k8s.io/pause:3.9 --platform linux/amd64 --platform linux/arm64 --layout ./images', 'pull one image for two platforms')
    .example('ag-images pull nginx:1.25 --mirror docker.io=mirror.internal:5000 --layout ./images', 'pull through a mirror; the layout keeps the upstream name')
    .example('ag-images pull registry.k8s.io/pause@sha256:7031… --platform linux/amd64 --layout ./images', 'a reference pinned by its index digest keeps every platform, so the far side serves that digest')
    .example('ag-images push --registry registry.internal:5000 --ca-file ca.crt --credentials-file creds < bundle.json > bundle.json.new', 'push every image of the bundle to the internal registry')
    .example('ag-images push --registry harbor.example/k8s --ca-file site-ca.crt < bundle.json > bundle.json.new', "push into the site's Harbor project k8s, with the robot account docker login stored")
    .example('ag-images verify --layout ./images', 're-hash every blob; exit 3 naming the bad digest')
    .example('ag-images import registry.k8s.io/pause:3.9 --layout ./images', "load an image into containerd's k8s.io namespace");
}

interface Inputs {
  document: AgDocument | undefined;
  password: string | undefined;
}

/** The document (unless stdin carries the password) and the password. */
async function readInputs(context: Context): Promise<Inputs> {
  const { io, args } = context;
  if (args['password-stdin'] === true) {
    if (args.in === undefined || args.in === '-') {
      const password = await readPasswordFromStdin(io);
      return { document: undefined, password };
    }
    return { document: await readDocument(io, { required: false, inPath: args.in }), password: await readPasswordFromStdin(io) };
  }
  return { document: await readDocument(io, { required: false, inPath: args.in }), password: undefined };
}

async function credentialsFromFile(path: string): Promise<{ username: string; password: string }> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw new UsageError(`--credentials-file ${path}: ${(error as Error).message}`);
  }
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UsageError(`--credentials-file ${path} does not hold user:password`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

async function connectionsFor(
  context: Context,
  inputs: Inputs,
  credentialsFor: string | undefined,
  defaults: { caFile?: string; credentialsFile?: string; prefix?: string } = {},
): Promise<Connections> {
  const { args, io, log } = context;
  const username = str(args, 'username');
  let credentials: { username: string; password: string; source: string } | undefined;
  const flagFile = str(args, 'credentials-file');
  const credentialsFile = flagFile ?? (username === undefined ? defaults.credentialsFile : undefined);
  if (credentialsFile !== undefined) {
    const path = resolve(io.cwd, credentialsFile);
    // Named in a refusal (exit 8), so the operator knows which file to fix.
    const source = flagFile !== undefined ? `--credentials-file ${path}` : `the document's registry.credentialsFile ${path}`;
    credentials = { ...(await credentialsFromFile(path)), source };
  }
  if (username !== undefined) {
    const password = inputs.password ?? credentials?.password;
    if (password === undefined) throw new UsageError('--username needs --password-stdin or --credentials-file');
    credentials = { username, password, source: inputs.password !== undefined ? '--username with --password-stdin' : `--username with the password in ${credentials!.source}` };
  } else if (inputs.password !== undefined) {
    throw new UsageError('--password-stdin needs --username');
  }
  // A containers auth.json may hold a robot account for `host/prefix` only: the client looks entries up by host.
  if (credentials === undefined && credentialsFor !== undefined && defaults.prefix !== undefined) credentials = await findCredentials(credentialsFor, defaults.prefix, io.env);
  if (credentials !== undefined && credentialsFor === undefined) {
    throw new UsageError('explicit credentials are for one registry, but this run contacts several', {
      hint: 'log in to each (docker login, or an auth.json in REGISTRY_AUTH_FILE) instead of --username',
    });
  }
  const caFiles = strings(args, 'ca-file').map((f) => resolve(io.cwd, f));
  if (caFiles.length === 0 && defaults.caFile !== undefined) caFiles.push(defaults.caFile);
  const certsDirs = strings(args, 'certs-dir').map((d) => resolve(io.cwd, d));
  const options: ConnectionOptions = {
    env: io.env,
    log,
    caFiles,
    insecureSkipTlsVerify: args['insecure-skip-tls-verify'] === true,
    plainHttp: args['plain-http'] === true,
    retries: retries(args),
    retryWindowMs: parseDuration(String(args['retry-window'] ?? '30s')),
    ...(certsDirs.length > 0 ? { certsDirs } : {}),
    ...(credentials !== undefined && credentialsFor !== undefined ? { credentials, credentialsFor } : {}),
  };
  return new Connections(options);
}

function retries(args: Args): number {
  const value = Number(args['retries']);
  if (!Number.isInteger(value) || value < 0 || value > 20) throw new UsageError(`--retries must be an integer from 0 to 20, got ${String(args['retries'])}`);
  return value;
}

function concurrency(args: Args): number {
  const value = Number(args['concurrency']);
  if (!Number.isInteger(value) || value < 1 || value > 64) throw new UsageError(`--concurrency must be an integer from 1 to 64, got ${String(args['concurrency'])}`);
  return value;
}

/** Says what images.layout means in a document that names no bundle root. */
function noRootNote(log: Context['log'], layout: string): void {
  log.info(`the document names no bundle root, and none is guessed: images.layout is ${JSON.stringify(layout)}, to be found under the root a later stage is given (--dir)`);
}

const handlers: Record<string, (context: Context) => Promise<number | void>> = {
  async pull(context) {
    const { pullImages } = await import('./pull.js');
    const { args, io, log, progress } = context;
    const inputs = await readInputs(context);
    const { document } = inputs;
    // The images named on the command line and/or those the document plans.
    const refs = [...positionalRefs(args), ...(document?.fetch?.images ?? []).map((image) => image.ref)];
    if (refs.length === 0) {
      throw new UsageError('nothing to pull: name images, or pipe in a document with fetch.images', { hint: 'ag-images pull registry.k8s.io/pause:3.9 --layout ./images' });
    }
    const layoutDir = layoutDirFor(document, str(args, 'layout'), io.cwd);
    const layoutName = layoutInDocument(document, layoutDir);
    const allPlatforms = args['all-platforms'] === true;
    const platforms = platformsFor(document, strings(args, 'platform'));
    const mirrors = strings(args, 'mirror').map(parseMirror);
    const contacted = [...new Set(refs.map((r) => sourceFor(parseReference(r), mirrors).registry))];
    const connections = await connectionsFor(context, inputs, contacted.length === 1 ? contacted[0] : undefined);
    try {
      const result = await pullImages({
        refs,
        layoutDir,
        platforms,
        allPlatforms,
        subsetPinned: args['subset-pinned'] === true,
        allowNondistributable: args['allow-nondistributable-artifacts'] === true,
        withReferrers: args['with-referrers'] === true,
        mirrors,
        connections,
        concurrency: concurrency(args),
        dryRun: args['dry-run'] === true,
        fsync: args['fsync'] !== false,
        log,
        progress,
      });
      if (args['dry-run'] === true) {
        if (args['with-referrers'] === true) log.info('a dry run does not look for referrers: they are listed only once their images are stored');
        context.reportPlanned(result.actions, { layout: layoutDir, fetch: result.fetched, present: result.present });
        if (document !== undefined) context.emit(document);
        return;
      }
      log.info(
        `pulled ${result.images.length} image(s) into ${layoutDir}: fetched ${result.fetched.blobs} blob(s), ${formatBytes(result.fetched.bytes)}; ` +
          `${result.present.blobs} already there (${formatBytes(result.present.bytes)})` +
          (result.foreignLeft > 0 ? `; ${result.foreignLeft} foreign layer(s) left as references (--allow-nondistributable-artifacts fetches them)` : '') +
          (args['with-referrers'] === true ? `; ${result.referrers.length} referrer(s) (signatures, SBOMs)` : ''),
      );
      const stored = allPlatforms ? [...new Set(result.images.flatMap((i) => i.manifests.map((m) => m.platform)))] : platformStrings(platforms);
      if (document?.root === undefined) noRootNote(log, layoutName);
      context.emit(withImages(document, layoutDir, stored, result.images));
    } finally {
      await connections.close();
    }
  },

  async push(context) {
    const [{ pushImages }, { listImages }] = await Promise.all([import('./push.js'), import('./list.js')]);
    const { args, io, log, progress } = context;
    const inputs = await readInputs(context);
    const { document } = inputs;
    const inDocument = registryTargetOf(document?.registry);
    const registryFlag = str(args, 'registry');
    if (registryFlag === undefined && inDocument === undefined) {
      throw new UsageError('no registry to push to: pass --registry HOST[:PORT][/PREFIX] (or pipe in a document that ag-registry up or trust completed)');
    }
    const target = registryFlag !== undefined ? parseRegistryTarget(registryFlag) : inDocument!;
    const registry = formatRegistryTarget(target);
    const layoutDir = layoutDirFor(document, str(args, 'layout'), io.cwd);
    let refs = positionalRefs(args);
    if (refs.length === 0 && document?.images?.images !== undefined && document.images.images.length > 0) refs = document.images.images.map((i) => i.ref);
    // Describing the layout (below) must not fail after the push: check it first.
    if (document?.images === undefined) layoutInDocument(document, layoutDir);
    const fromDocument = inDocument !== undefined && sameRegistryTarget(inDocument, target);
    const connections = await connectionsFor(context, inputs, target.host, {
      ...(target.prefix !== undefined ? { prefix: target.prefix } : {}),
      ...(fromDocument && document?.registry?.caFile ? { caFile: document.registry.caFile } : {}),
      ...(fromDocument && document?.registry?.credentialsFile ? { credentialsFile: document.registry.credentialsFile } : {}),
    });
    try {
      const result = await pushImages({
        layoutDir,
        registry,
        ...(refs.length > 0 ? { refs } : {}),
        allowNondistributable: args['allow-nondistributable-artifacts'] === true,
        connections,
        concurrency: concurrency(args),
        dryRun: args['dry-run'] === true,
        log,
        progress,
      }).catch((error: unknown) => {
        throw fromDocument ? explainOwnRegistryFailure(error, document?.registry) : error;
      });
      if (args['dry-run'] === true) {
        context.reportPlanned(result.actions, { registry, present: result.present, foreignLeftOut: result.foreignLeftOut });
        if (document !== undefined) context.emit(document);
        return;
      }
      log.info(
        `pushed ${result.images.length} image(s) to ${registry}: uploaded ${result.uploaded.blobs} blob(s), ${formatBytes(result.uploaded.bytes)}; ` +
          `mounted ${result.mounted}; ${result.present} blob(s) and ${result.imagesPresent} image(s) already there` +
          (result.referrers.length > 0 ? `; restored ${result.referrers.length} referrer(s)` : ''),
      );
      if (result.foreignLeftOut.length > 0) {
        log.warn(
          `left out ${result.foreignLeftOut.length} foreign layer(s) the layout stores: ` +
            result.foreignLeftOut.map((f) => `${f.digest} (${formatBytes(f.size)}, ${f.refs.join(', ')})`).join('; ') +
            `; nodes fetch them from their URLs, or pass --allow-nondistributable-artifacts to push them`,
        );
      }
      let base = document;
      if (base?.images === undefined) {
        // No document (or none that pulled): describe the layout so the output still names every image.
        if (base?.root === undefined) noRootNote(log, layoutInDocument(base, layoutDir));
        base = withImages(base, layoutDir, [], await listImages(layoutDir).then((list) => list.map(({ size: _s, foreignLayers: _f, ...image }) => image)));
      }
      const images = base.images!;
      const updated: AgDocument = {
        ...base,
        images: {
          ...images,
          images: images.images.map((image) => {
            const pushed = result.images.find((p) => p.ref === image.ref);
            return pushed === undefined ? image : { ...image, internalRef: pushed.internalRef };
          }),
          push: { registry, pushedAt: new Date().toISOString() },
        },
      };
      context.emit(updated);
    } finally {
      await connections.close();
    }
  },

  async list(context) {
    const { listImages } = await import('./list.js');
    const { args, io } = context;
    const document = await readDocument(io, { required: false, inPath: args.in });
    const layoutDir = layoutDirFor(document, str(args, 'layout'), io.cwd);
    const images = await listImages(layoutDir);
    // A table unless --output says otherwise, in a pipe too (grep and awk read it); --output json gives one array.
    if (args['output'] === 'none') return;
    if (args['output'] === 'json') {
      io.stdout.write(`${JSON.stringify(images, null, args.pretty ? 2 : undefined)}\n`);
      return;
    }
    const rows = images.map((i) => [i.ref, i.digest.slice(0, 19), i.manifests.map((m) => m.platform).join(',') + (i.partial ? ' (subset)' : ''), formatBytes(i.size) + (i.foreignLayers > 0 ? ` +${i.foreignLayers} foreign` : '')]);
    const header = ['REFERENCE', 'DIGEST', 'PLATFORMS', 'SIZE'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    for (const row of [header, ...rows]) io.stdout.write(`${row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}\n`);
  },

  async verify(context) {
    const { verifyImages } = await import('./verify.js');
    const { args, io, log, progress } = context;
    const document = await readDocument(io, { required: false, inPath: args.in });
    const layoutDir = layoutDirFor(document, str(args, 'layout'), io.cwd);
    const expected = document?.images !== undefined && document.root !== undefined && resolveInRoot(bundleRoot(document), document.images.layout) === layoutDir ? document.images.images : undefined;
    const task = progress.task('verifying', 0, 'items');
    const result = await verifyImages({
      layoutDir,
      ...(expected ? { expected } : {}),
      quick: args['quick'] === true,
      repair: args['repair'] === true,
      onBlob: () => task.advance(1),
    }).finally(() => task.done());
    log.info(
      `${layoutDir}: ${result.images} image(s), ${result.blobs} blob(s) re-hashed (${formatBytes(result.bytes)}), all match` +
        (result.foreign > 0 ? `; ${result.foreign} foreign layer(s) referenced, not stored` : ''),
    );
    if (document !== undefined) context.emit(document);
  },

  async gc(context) {
    const { args, io, log } = context;
    const document = await readDocument(io, { required: false, inPath: args.in });
    const layoutDir = layoutDirFor(document, str(args, 'layout'), io.cwd);
    const result = await gcLayout(await OciLayout.open(layoutDir), { dryRun: args['dry-run'] === true });
    if (args['dry-run'] === true) context.reportPlanned(result.removed.map((blob) => ({ action: 'delete', ...blob })), { freedBytes: result.freedBytes, partials: result.partials, orphanReferrers: result.orphanReferrers });
    else log.info(`${layoutDir}: deleted ${result.removed.length} unreferenced blob(s) (${formatBytes(result.freedBytes)}) and ${result.partials.length} stale partial(s); ${result.kept} kept${result.orphanReferrers.length > 0 ? `; dropped ${result.orphanReferrers.length} referrer(s) whose image is gone` : ''}`);
    if (document !== undefined) context.emit(document);
  },

  async import(context) {
    const { args, io, log } = context;
    const document = await readDocument(io, { required: false, inPath: args.in });
    const layoutDir = layoutDirFor(document, str(args, 'layout'), io.cwd);
    const named = positionalRefs(args);
    let refs = named;
    if (refs.length === 0 && document?.images?.images !== undefined && document.images.images.length > 0) refs = document.images.images.map((i) => i.ref);
    const result = await importImages({
      layoutDir,
      ...(refs.length > 0 ? { refs } : {}),
      named: named.length > 0,
      address: str(args, 'containerd-address') ?? DEFAULT_CONTAINERD_ADDRESS,
      namespace: str(args, 'namespace') ?? 'k8s.io',
      allPlatforms: args['all-platforms'] === true,
      ...(str(args, 'platform') !== undefined ? { platform: str(args, 'platform')! } : {}),
      ctr: str(args, 'ctr') ?? 'ctr',
      dryRun: args['dry-run'] === true,
      env: io.env,
      stderr: io.stderr,
      log,
    });
    if (args['dry-run'] === true) context.reportPlanned(result.images.map((image) => ({ action: 'import', ...image })), { command: result.command, blobs: result.blobs, bytes: result.bytes, skipped: result.skipped });
    else log.info(`imported ${result.images.length} image(s) (${result.blobs} blobs, ${formatBytes(result.bytes)})${result.skipped.length > 0 ? `; skipped ${result.skipped.length} with nothing for this platform` : ''}`);
    if (document !== undefined) context.emit(document);
  },
};

/** Runs ag-images in-process: `main(argv, io)` is what bin.ts and the tests call. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool({ name: 'ag-images', version: VERSION, configure, handlers, summaries }, argv, io);
}
