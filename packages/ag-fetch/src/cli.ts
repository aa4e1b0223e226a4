import { bundleRoot, createHttpDispatcher, MIRROR_SYNTAX, parseDuration, processIo, readDocument, runTool, sharedOption, UsageError, validateClusterNetworks, type CommandContext, type Io } from '@ag/core';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import packageJson from '../package.json' with { type: 'json' };
import { downloadDocumentOsPackages, joinNoPackageValues } from './os-packages/cli-support.js';
import { summaries } from './summary.js';

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)]);

/** `Name: value` flags -> a header record (never logged, never written to the document). */
export function parseHeaders(flags: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const flag of flags) {
    const colon = flag.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header: expected "Name: value", got ${JSON.stringify(flag.slice(0, 20))}`);
    headers[flag.slice(0, colon).trim().toLowerCase()] = flag.slice(colon + 1).trim();
  }
  return headers;
}

/** The check date of the tables the plan used, e.g. "2026-12-02". */
function tablesChecked(fetch: NonNullable<import('@ag/core').AgDocument['fetch']>): string {
  const dates = new Set(Object.values(fetch.versionSources ?? {}).flatMap((source) => (source.checked === undefined ? [] : [source.checked])));
  return dates.size === 0 ? '(none used)' : [...dates].join(', ');
}

async function plan({ io, log, progress, args, emit }: CommandContext<Record<string, unknown>>): Promise<number> {
  // Loaded here, not at the top, so that --help never pays for them.
  const [{ planFetch }, { planInputs, withSite }, { readSiteFile }, { parseMirrors }, { defaultListingCache }] = await Promise.all([
    import('./plan.js'),
    import('./plan/from-flags.js'),
    import('./site.js'),
    import('./mirrors.js'),
    import('./plan/releases/etag-cache.js'),
  ]);
  const site = typeof args['site'] === 'string' ? await readSiteFile(resolve(io.cwd, args['site'])) : undefined;
  // Checked here (exit 2 before any network); a minor or "stable" is resolved by planFetch.
  const inputs = planInputs(args, site);
  const planRequest = inputs.request;
  // Here, before anything is fetched: every later stage trusts cluster.podSubnet and cluster.serviceSubnet.
  validateClusterNetworks(planRequest, { fields: inputs.networkFields });
  const online = args['checksums'] !== false;
  const base = args.in === undefined ? undefined : await readDocument(io, { required: true, inPath: args.in });
  const dispatcher = online ? await createHttpDispatcher({ env: io.env }) : undefined;
  try {
    const document = await planFetch(planRequest, {
      root: resolve(io.cwd, String(args['dir'])),
      mirrors: parseMirrors(strings(args['mirror'])),
      online,
      imageList: args['image-list'] as 'auto' | 'kubeadm' | 'table',
      kubeadmPath: args['kubeadm'] === undefined ? undefined : resolve(io.cwd, String(args['kubeadm'])),
      ...(dispatcher ? { dispatcher } : {}),
      githubToken: io.env['GITHUB_TOKEN'] || undefined,
      listingCacheDir: defaultListingCache(io.env, homedir()),
      base,
      log,
      progress,
    });
    progress.stop();
    emit(withSite(document, inputs, site?.record));
    const fetch = document.fetch!;
    const pinned = fetch.files.filter((f) => f.sha256 !== undefined).length;
    log.info(
      `planned ${fetch.files.length} files and ${fetch.images.length} images for Kubernetes ${fetch.components['kubernetes']} ` +
        `(${planRequest.architectures.join(', ')}; ${planRequest.os}; flannel ${fetch.components['flannel']}); ` +
        `control-plane images from ${fetch.imageList.source}; ${pinned} of ${fetch.files.length} checksums known${site !== undefined ? `; site file ${site.record.path} (${site.record.name})` : ''}`,
    );
    if (!online) log.warn(`planned without network (--no-checksums): versions from the tables checked ${tablesChecked(fetch)}; download will record each checksum on first fetch`);
    return 0;
  } finally {
    await dispatcher?.close();
  }
}

async function download({ io, log, progress, args, emit }: CommandContext<Record<string, unknown>>): Promise<number> {
  const [{ downloadFiles }, { parseMirrors }] = await Promise.all([import('./download.js'), import('./mirrors.js')]);
  const document = (await readDocument(io, { required: true, inPath: args.in }))!;
  const root = bundleRoot(document, args['dir'] === undefined ? undefined : String(args['dir']), io.cwd);
  const mirrors = parseMirrors(strings(args['mirror']));
  if (args['dry-run'] === true) {
    const { downloadDryRun } = await import('./dry-run.js');
    const cacheDir = typeof args['packages-cache'] === 'string' ? resolve(io.cwd, args['packages-cache']) : undefined;
    emit(downloadDryRun(document, { root, mirrors, osPackages: args['os-packages'] !== false, cacheDir, env: io.env, log }));
    return 0;
  }
  const dispatcher = await createHttpDispatcher({ env: io.env });
  try {
    const { document: fetched } = await downloadFiles(document, {
      root,
      mirrors,
      concurrency: Number(args['concurrency']),
      retries: Number(args['retries']),
      retryPolicy: { refusedWindowMs: parseDuration(String(args['retry-window'] ?? '30s')) },
      headers: parseHeaders(strings(args['header'])),
      dispatcher,
      log,
      progress,
    });
    progress.stop();
    const updated = args['os-packages'] === false ? fetched : await downloadDocumentOsPackages(fetched, root, { io, log, args });
    emit(updated);
    return 0;
  } finally {
    await dispatcher.close();
  }
}

async function check({ io, log, args, emit }: CommandContext<Record<string, unknown>>): Promise<number> {
  const [{ checkConnectedSide }, { parseMirrors }, { MissingError, parseDuration }] = await Promise.all([import('./check.js'), import('./mirrors.js'), import('@ag/core')]);
  const document = (await readDocument(io, { required: true, inPath: args.in }))!;
  const root = bundleRoot(document, args['dir'] === undefined ? undefined : String(args['dir']), io.cwd);
  const dispatcher = await createHttpDispatcher({ env: io.env });
  try {
    const lines = await checkConnectedSide(document, {
      root,
      mirrors: parseMirrors(strings(args['mirror'])),
      headers: parseHeaders(strings(args['header'])),
      dispatcher,
      env: io.env,
      osPackages: args['os-packages'] !== false,
      cacheDir: typeof args['packages-cache'] === 'string' ? resolve(io.cwd, args['packages-cache']) : undefined,
      timeoutMs: parseDuration(String(args['timeout'])),
    });
    for (const line of lines) (line.ok ? log.info : log.error).call(log, `${line.ok ? 'ok' : 'MISSING'}: ${line.item}: ${line.text}`);
    const missing = lines.filter((l) => !l.ok);
    if (missing.length > 0) {
      // Nothing on stdout: a pipeline into download stops here.
      const kinds = [...new Set(missing.map((l) => l.item))].map((item) => `${item}${missing.filter((l) => l.item === item).length > 1 ? ` ×${missing.filter((l) => l.item === item).length}` : ''}`);
      throw new MissingError(`${missing.length} thing(s) download needs are missing: ${kinds.join(', ')} (listed above)`, {
        hint: 'fix those (a mirror or proxy for an unreachable host, space or another --dir, the missing programs: README, "OS packages"), then check again',
      });
    }
    log.info(`ready to download: ${lines.length} check(s) passed`);
    emit(document);
    return 0;
  } finally {
    // destroy, not close: a HEAD given up on may still hang in undici (check.ts, head).
    await dispatcher.destroy();
  }
}

const mirrorOptions = (parser: import('yargs').Argv): import('yargs').Argv =>
  parser
    .option('mirror', sharedOption('mirror', `https://HOST/PATH from TARGET/PATH (HOST=TARGET), or every host from TARGET/HOST/PATH (TARGET alone); ${MIRROR_SYNTAX}`, { array: true }));

/** ag-fetch: knows what a cluster needs (`plan`) and fetches it (`download`). */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(
    {
      name: 'ag-fetch',
      version: packageJson.version,
      configure: (parser) =>
        parser
          .usage('$0 <command> [options]\n\nKnows everything a kubeadm cluster needs, and fetches and verifies it for the trip across the gap.')
          .command('plan', 'write the document: every file (URL, bundle path, sha256) and image a cluster needs', (p) =>
            mirrorOptions(
              p
                .option('site', { type: 'string', requiresArg: true, describe: 'the cluster described in a site file (YAML, docs/site.md); the flags below override its fields' })
                .option('kubernetes-version', { type: 'string', requiresArg: true, describe: 'a release (v1.35.2), a minor (1.35: its newest patch, from dl.k8s.io/release/stable-1.35.txt) or stable (required without --site)' })
                .option('arch', { type: 'string', array: true, defaultDescription: 'amd64', choices: ['amd64', 'arm64', 'arm', 'ppc64le', 's390x'], describe: 'node architecture (repeatable)' })
                .option('os', { type: 'string', requiresArg: true, describe: 'node OS, e.g. fedora-37, debian-12 (required without --site)' })
                .option('cni', { type: 'string', defaultDescription: 'flannel', requiresArg: true, describe: 'CNI and version, e.g. flannel@v0.22.0 (default version: the one for this Kubernetes minor)' })
                .option('image', { type: 'string', array: true, requiresArg: true, describe: 'an extra image to carry, e.g. ghcr.io/stefanprodan/podinfo:6.4.0 (repeatable)' })
                .option('chart', { type: 'string', array: true, requiresArg: true, describe: 'a Helm chart, REPO_URL/NAME@VERSION (repeatable)' })
                .option('file', { type: 'string', array: true, requiresArg: true, describe: 'an extra file, URL[#sha256=HEX] (repeatable)' })
                .option('component', { type: 'string', array: true, requiresArg: true, describe: 'override a version: crictl, cni-plugins, helm, k9s, kubernetes-release, flannel, registry, pause, etcd, coredns, flannel-cni-plugin, containerd, runc (NAME=VERSION; repeatable)' })
                .option('pod-subnet', { type: 'string', defaultDescription: '10.244.0.0/16', describe: "the pod network (flannel's default)" })
                .option('service-subnet', { type: 'string', defaultDescription: '10.96.0.0/12', describe: 'the service network' })
                .option('dns-domain', { type: 'string', defaultDescription: 'cluster.local', describe: 'the cluster DNS domain' })
                .option('dir', sharedOption('dir', 'the one the document names (files go to DIR/files/)', { default: 'bundle' }))
                .option('checksums', { type: 'boolean', default: true, describe: 'fetch upstream checksum files; --no-checksums plans with no network at all (versions from the dated tables)' })
                .option('image-list', { choices: ['auto', 'kubeadm', 'table'] as const, default: 'auto' as const, describe: "control-plane images from this release's kubeadm, the table in data/, or kubeadm when it can run (auto)" })
                .option('kubeadm', { type: 'string', requiresArg: true, describe: 'a kubeadm binary of the release to ask for the image list' })
                .option('package', { type: 'string', array: true, requiresArg: true, describe: "an extra OS package for the nodes, by the OS's name (repeatable)" })
                .option('no-package', { type: 'string', array: true, requiresArg: true, describe: 'leave a package of the default OS set out (repeatable)' })
                .option('containerd', {
                  choices: ['os', 'upstream'] as const,
                  defaultDescription: 'os (or the site file\'s spec.os.containerd)',
                  describe: "where containerd and runc come from: the OS packages, or containerd's and runc's GitHub releases (with containerd.service) for a Kubernetes newer than the OS's containerd supports",
                })
                .example('$0 plan --kubernetes-version v1.27.3 --arch amd64 --os fedora-37 --cni flannel@v0.22.0', 'the classic cluster')
                .example('$0 plan --site site.yaml --mirror https://mirror.internal', 'the cluster a site file describes (docs/site.md), through a mirror')
                .example('$0 plan --site site.yaml --kubernetes-version v1.27.4', 'the same site, one patch later: a flag overrides the file')
                .example('$0 plan … --chart https://stefanprodan.github.io/podinfo/podinfo@6.4.0 --image ghcr.io/stefanprodan/podinfo:6.4.0', 'add an application')
                .example('$0 plan --kubernetes-version 1.36 --os debian-12', "the newest 1.36 patch (dl.k8s.io's stable-1.36.txt)")
                .example('$0 plan … --component etcd=3.5.9-0 --component helm=v3.12.3', 'override versions')
                .example('$0 plan … --os fedora-37 --package containerd.io --no-package containerd', "docker-ce's containerd instead of Fedora's")
                .example('$0 plan --kubernetes-version 1.36 --os debian-12 --containerd upstream', "Kubernetes 1.36 on Debian 12, whose containerd 1.6 it does not support: containerd 2.x and runc from GitHub"),
            ),
          )
          .command('download', 'fetch and verify every file of the document (stdin) into DIR/files/', (p) =>
            mirrorOptions(
              p
                .option('dir', sharedOption('dir', "(default: the document's root)"))
                .option('concurrency', { type: 'number', default: 4, describe: 'files fetched at once' })
                .option('retries', { type: 'number', default: 4, describe: 'further attempts per file after a reset, 429 or 5xx' })
                .option('retry-window', { type: 'string', default: '30s', requiresArg: true, describe: 'how long a refused connection is retried (a server restarting) before giving up' })
                .option('header', { type: 'string', array: true, requiresArg: true, describe: '"Name: value" sent to each file\'s host, never to a host it redirects to (repeatable)' })
                .option('dry-run', { type: 'boolean', default: false, describe: 'pass the document through with what download would do in fetch.dryRun (and on stderr); fetch nothing, write nothing, ask no server' })
                .option('inventory', { type: 'string', requiresArg: true, describe: "the far side's `ag-nodeprep inventory`: OS packages it has are not carried" })
                .option('baseline-status', { type: 'string', requiresArg: true, describe: 'deb: a dpkg status file of a host like the far side, instead of a minimal install' })
                .option('os-packages', { type: 'boolean', default: true, describe: 'resolve and carry the OS packages (--no-os-packages: files only)' })
                .option('packages-cache', { type: 'string', requiresArg: true, describe: 'private apt/dnf state kept between runs (default ~/.cache/ag/os-packages)' })
                .example('$0 plan … | $0 download --dir ./bundle > fetched.json', 'fetch into ./bundle/files/')
                .example('$0 download --inventory far-side-inventory.json < plan.json', 'carry only the OS packages the far side lacks')
                .example("$0 download --header 'Authorization: Bearer …' < plan.json", 'credentials for a mirror'),
            ),
          )
          .command('check', "before a long download: this machine's proxy settings, every upstream reachable (HEAD through the mirrors and proxies), free space for what the plan fetches, the programs the OS packages need; one line each, exit 5 listing what is missing; the document passes through", (p) =>
            mirrorOptions(
              p
                .option('dir', sharedOption('dir', "download will write to (default: the document's root)"))
                .option('header', { type: 'string', array: true, requiresArg: true, describe: '"Name: value" sent with each HEAD, as download sends it (repeatable)' })
                .option('os-packages', { type: 'boolean', default: true, describe: 'check what the OS packages need (--no-os-packages: as download --no-os-packages)' })
                .option('packages-cache', { type: 'string', requiresArg: true, describe: 'private apt/dnf state download will use (default ~/.cache/ag/os-packages)' })
                .option('timeout', { type: 'string', default: '15s', requiresArg: true, describe: 'how long each HEAD may take' })
                .example('$0 plan … | $0 check | $0 download > fetched.json', 'stop before fetching when something is missing')
                .example('$0 check --no-os-packages < plan.json > /dev/null', 'check a plan whose files alone will be downloaded'),
            ),
          )
          .example('$0 plan --kubernetes-version v1.27.3 --os fedora-37 > plan.json', 'plan a v1.27.3 cluster')
          .example('$0 download < plan.json > fetched.json', 'fetch and verify every file')
          .example('$0 plan … --no-checksums', 'plan with no internet at all')
          .example('$0 plan … --mirror URL', 'use a mirror that holds URL/HOST/PATH')
          .example('$0 download --in plan.json --dry-run', 'show what would be fetched'),
      handlers: { plan, check, download },
      summaries,
    },
    joinNoPackageValues(argv),
    io,
  );
}
