import { chmod, copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatRegistryTarget, type AgDocument } from '@ag/core';
import { unmountAllUnder, type RelayedRequest } from '@ag/fixtures';
import { CLUSTER, type ConnectedResult } from './connected-side.js';
import { FAR_ARCH, FAR_REGISTRY_ENDPOINT, FAR_REGISTRY_LISTEN, type Cleanups, type FarResult } from './far-side.js';
import { createGap, FAR_REGISTRY_NAME, type Gap, type Leak } from './gap.js';
import { readDocument, runTripInNetns, writeConnectedBin } from './netns-driver.js';
import { missingPrerequisites } from './prerequisites.js';
import type { Reporter } from './reporter.js';
import { Shell } from './shell.js';
import { Stages, type StageTiming } from './stages.js';
import { buildTools } from './tools.js';
import { withoutNode } from './no-node.js';
import type { UpstreamInfo } from './upstream/info.js';
import { startUpstream } from './upstream/start.js';
import { planSiteRegistry, startSiteRegistry, type SiteRegistryPlan } from './site-registry/start.js';
import { FAR_BIN, tripSteps, type Step } from './trip/steps.js';
import { NEXT_VERSION, netnsWorld, type RegistryTarget, type World } from './trip/world.js';

export { NEXT_VERSION };

/** The next trip: the next patch release, carried as a delta against the far side's inventory. */
export interface NextTripResult {
  /** The connected side's delta bundle and the document pack wrote. */
  connected: ConnectedResult;
  /** The far side's document after unpacking the delta onto its bundle. */
  unpacked: AgDocument;
  pushed: AgDocument;
  /** The next release's control-plane images containerd then pulled by their upstream names. */
  pulled: string[];
}

export interface ScenarioOptions {
  reporter: Reporter;
  /** The working directory (created); a new one under the temp dir by default. The caller removes it (removeWork). */
  work?: string;
  /** Bytes of unique content per generated image (default 192 KiB: the run stays small). */
  uniqueBytes?: number;
  /**
   * `HOST[:PORT][/PREFIX]`: use a registry the site runs instead of ag-registry up. A
   * distribution registry (TLS, htpasswd) stands in for it on the far side, started apart.
   */
  siteRegistry?: string;
  /** The seed's production topology: three control planes behind a load balancer's endpoint (the kubeadm double's HA commands). */
  ha?: boolean;
  /**
   * Resolve and download the OS packages from Debian's archive (the connected
   * side's only way out: a proxy on this machine relaying to the archive's
   * hosts alone), carry them, and install them into the cached debootstrap
   * root on the far side, with no route out.
   */
  osPackages?: boolean;
}

/** The hosts of ag-fetch's debian-12 sources (packages/ag-fetch/src/os-packages/os-releases.ts): the connected side's only way out. */
export const DEBIAN_ARCHIVE_HOSTS = ['deb.debian.org'] as const;

/** What the run found about the gap itself. */
export interface GapReport {
  /** The far side's black-hole interface. */
  hole: string;
  /** What the far side sent into the black hole during the whole run (before the control probe). */
  leak: Leak;
  /** What arrived at the hole's other end in that time. */
  arrived: Leak;
  /** address -> the far side's interface for it (`ip route get`): everything outside goes into the hole. */
  routes: Record<string, string | undefined>;
  /** The upstream's listening addresses, tried from the far side: `refused` (that loopback is another network stack). */
  upstreamFromFar: Record<string, string>;
  /** What listened in the far namespace at the end (`ss -ltnp`), to explain a probe that connected. */
  farListeners: string;
  /** The sensor's control: one connection attempt outward after the run, and the counter after it. */
  control: { result: string; leak: Leak };
  /** What the connected side's proxy relayed (with OS packages): Debian's archive only. */
  outbound?: RelayedRequest[];
}

export interface ScenarioResult {
  work: string;
  upstream: UpstreamInfo;
  connected: ConnectedResult;
  /** Every file on the far side right after the carry, relative to its directory. */
  carried: string[];
  far: FarResult;
  /** The next trip: the next patch release, carried as a delta against the far side's inventory. */
  next: NextTripResult;
  gap: GapReport;
  timings: StageTiming[];
  /** The world and the steps the run went through, in order (trip/steps.ts). */
  world: World;
  steps: Step[];
  elapsedMs: number;
}

/** This machine's own addresses (outside any namespace the run made): the far side must not reach them either. */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address !== undefined && !address.internal && address.family === 'IPv4')
    .map((address) => address!.address);
}

async function checkGap(gap: Gap, upstream: UpstreamInfo): Promise<GapReport> {
  const leak = await gap.leak();
  const arrived = await gap.arrived();
  const routes: Record<string, string | undefined> = {};
  for (const address of ['1.1.1.1', '8.8.8.8', '2606:4700:4700::1111', ...hostAddresses()]) routes[address] = await gap.routeFromFar(address);
  const farListeners = (await gap.far.exec(['ss', '-ltnp'], { reject: false })).stdout as string;
  const farPorts = new Set([...farListeners.matchAll(/:(\d+)\s/g)].map((m) => Number(m[1])));
  const upstreamFromFar: Record<string, string> = {};
  for (const hostPort of [upstream.registry.host, new URL(upstream.files.url).host]) {
    const [host, port] = hostPort.split(':') as [string, string];
    // A far-side server may happen to hold the same port number on its own loopback (containerd's CRI stream server takes a random one).
    upstreamFromFar[hostPort] = farPorts.has(Number(port)) ? 'far side listens there itself' : await gap.tryConnectFromFar(host, Number(port));
  }
  // The control comes last, so that the figures above are the run's alone.
  const result = await gap.tryConnectFromFar('192.0.2.1', 443);
  return { hole: gap.hole, leak, arrived, routes, upstreamFromFar, farListeners, control: { result, leak: await gap.leak() }, ...(gap.outbound === undefined ? {} : { outbound: [...gap.outbound.relayed] }) };
}

/**
 * The whole pipeline across a simulated air gap (see gap.ts): the trip of
 * trip/steps.ts in the netns world (trip/world.ts), run by netns-driver.ts:
 * a stand-in upstream in the connected namespace; plan | download | pull |
 * pack there; only the bundle file crosses; verify, unpack, nodeprep,
 * registry, push, containerd pulls and runs, kubeadm config, flannel render,
 * kubeadm preflight, init and joins (the kubeadm double) on the far side,
 * which has no route anywhere; the next trip, a delta for the next patch
 * release packed against the far side's inventory, and the upgrade planned,
 * applied on the first control plane and run on every other node (doubles);
 * and then the proof that the far side sent nothing out. Throws on the
 * first failing step, after cleaning up every process and namespace it
 * started. Needs root.
 */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const why = missingPrerequisites();
  if (why !== undefined) throw new Error(why);
  const started = Date.now();
  const reporter = options.reporter;
  const stages = new Stages(reporter);
  const work = options.work ?? (await mkdtemp(join(tmpdir(), 'ag-e2e-')));
  const connectedDir = join(work, 'connected');
  const farDir = join(work, 'far');
  await mkdir(connectedDir, { recursive: true });
  await mkdir(farDir, { recursive: true });
  const cleanups: Cleanups = [];
  try {
    const site = options.siteRegistry === undefined ? undefined : planSiteRegistry(options.siteRegistry);
    const gap = await createGap({ farNames: site?.name !== undefined ? [site.name] : [], ...(options.osPackages === true ? { outboundHosts: DEBIAN_ARCHIVE_HOSTS } : {}) });
    cleanups.push(() => gap.destroy());
    const connectedReach = gap.outbound === undefined ? 'loopback only' : `loopback, and ${DEBIAN_ARCHIVE_HOSTS.join(', ')} through a proxy at ${gap.outbound.url} on this machine`;
    reporter.note(`network namespaces: ${gap.connected.name} (connected: ${connectedReach}), ${gap.far.name} (far: loopback, and ${gap.hole} into a black hole)`);
    reporter.note(`each side's commands below run inside its namespace (ip netns exec NAME …)`);

    const [, upstream] = await Promise.all([
      stages.run('connected', 'build the ag tools', () => buildTools(join(connectedDir, 'tools'))),
      stages.run('connected', 'start the stand-in upstream', async () => {
        const running = await startUpstream(gap.connected.prefix, join(work, 'upstream'), {
          nextVersion: NEXT_VERSION,
          ...(options.uniqueBytes === undefined ? {} : { uniqueBytes: options.uniqueBytes }),
        });
        cleanups.push(() => running.stop());
        return running.info;
      }),
    ]);
    reporter.note(`upstream file hosts at ${upstream.files.url}, registries at ${upstream.registry.host} (every upstream host as a path prefix), ${upstream.images.length} images`);

    await writeConnectedBin(connectedDir);
    const connectedShell = new Shell(gap.connected.prefix, connectedDir, reporter, {
      ...upstream.registry.env,
      // apt reads http_proxy (deb.debian.org is http://); the stand-in upstream is on the namespace's loopback.
      ...(gap.outbound === undefined ? {} : { http_proxy: gap.outbound.url, https_proxy: gap.outbound.url, HTTP_PROXY: gap.outbound.url, HTTPS_PROXY: gap.outbound.url }),
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
      PATH: `${join(connectedDir, FAR_BIN)}:${process.env['PATH'] ?? ''}`,
    });
    // The far side has no Node.js: its commands run where this machine's node is hidden (no-node.ts).
    const farShell = new Shell(await withoutNode(gap.far.prefix, join(work, 'no-node')), farDir, reporter, { PATH: `${join(farDir, FAR_BIN)}:${process.env['PATH'] ?? ''}` });
    const siteRegistry = site === undefined ? undefined : await startSite(gap, site, work, farDir, cleanups, stages);
    const world = netnsWorld({
      arch: FAR_ARCH,
      filesUrl: upstream.files.url,
      registryHost: upstream.registry.host,
      registryCaFile: upstream.registry.caFile,
      registryListen: FAR_REGISTRY_LISTEN,
      registryName: FAR_REGISTRY_NAME,
      registryEndpoint: FAR_REGISTRY_ENDPOINT,
      ha: options.ha ?? false,
      osPackages: options.osPackages ?? false,
      ...(siteRegistry === undefined ? {} : { siteRegistry }),
    });
    const steps = tripSteps(world, CLUSTER.os);
    reporter.note(`the trip: ${steps.length} steps (e2e/src/trip/steps.ts), the same the Vagrant driver runs; upstream: ${world.upstreamDescription}`);
    if (upstream.next === undefined) throw new Error('the stand-in upstream holds no next release (serve.ts --next-version)');
    let gapReport: GapReport | undefined;
    const checkLeak = async (): Promise<void> => void (gapReport = await checkGap(gap, upstream));
    const out = await runTripInNetns(steps, world, { connected: connectedShell, far: farShell, farNamespace: gap.far.name, nextImages: upstream.next.images, checkLeak }, stages, cleanups);
    if (gapReport === undefined) throw new Error('the trip has no leak step: nothing counted the black hole');

    const connectedResult = async (bundle: string): Promise<ConnectedResult> => ({
      bundleFile: join(connectedDir, bundle),
      bundleBytes: (await stat(join(connectedDir, bundle))).size,
      publicKey: join(connectedDir, 'keys', 'ag-bundle.pub.pem'),
      document: await readDocument(connectedDir, `${bundle}.json`),
    });
    const connected = await connectedResult('out/bundle.tar');
    const next: NextTripResult = {
      connected: await connectedResult('out/delta.tar'),
      unpacked: await readDocument(farDir, 'doc/next.json'),
      pushed: await readDocument(farDir, 'doc/next-pushed.json'),
      pulled: upstream.next.images,
    };
    reporter.note(`bundle: ${connected.bundleBytes} bytes, signed; delta bundle: ${next.connected.bundleBytes} bytes, ${Math.round((100 * next.connected.bundleBytes) / connected.bundleBytes)}% of the first`);
    const status = (await readDocument(farDir, 'doc/status.json')).registry?.status;
    const [first, ...otherControlPlanes] = world.topology.controlPlanes;
    const far: FarResult = {
      nodeFound: (out.stdout.get(`${first!.name}:no-node`) ?? []).join('').trim(),
      toolVersion: (out.stdout.get(`${first!.name}:unpack`) ?? []).at(-1)!.trim(),
      ...(out.stdout.has('os-packages') ? { containerdPackage: out.stdout.get('os-packages')!.at(-1)!.trim() } : {}),
      unpacked: await readDocument(farDir, 'doc/unpacked.json'),
      pushed: await readDocument(farDir, 'doc/pushed.json'),
      kubeadm: await readDocument(farDir, 'doc/kubeadm.json'),
      flannel: await readDocument(farDir, 'doc/flannel.json'),
      podinfoOutput: out.podinfoOutput,
      helmOutput: (out.stdout.get('helm') ?? []).join(''),
      clusterImages: out.clusterImages,
      repositories: status?.repositories,
      ...(status?.images ? { imagesThere: status.images.present } : {}),
      containerdConfig: out.containerdConfig,
      kubeadmRun: {
        preflight: await readDocument(farDir, 'doc/preflight.json'),
        initialised: await readDocument(farDir, 'doc/init.json'),
        joined: await readDocument(farDir, `doc/${world.topology.workers[0]!.name}-joined.json`),
        controlPlanesJoined: await Promise.all(otherControlPlanes.map((node) => readDocument(farDir, `doc/${node.name}-joined.json`))),
      },
    };
    reporter.note(`far side sent ${gapReport.leak.packets} packet(s) into the black hole; the control probe afterwards sent ${gapReport.control.leak.packets}`);
    return { work, upstream, connected, carried: out.carried, far, next, gap: gapReport, timings: stages.timings, world, steps, elapsedMs: Date.now() - started };
  } finally {
    const cleaning = Date.now();
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => reporter.note(`cleanup: ${(error as Error).message}`));
    reporter.note(`stopped containerd, the registries and the upstream, removed the namespaces: ${((Date.now() - cleaning) / 1000).toFixed(1)} s`);
  }
}

/**
 * The site's registry for `--registry`: started apart in the far namespace
 * (as the site runs it, not by ag), its CA and robot account handed to the
 * far side under site/.
 */
async function startSite(gap: Gap, plan: SiteRegistryPlan, work: string, farDir: string, cleanups: Cleanups, stages: Stages): Promise<RegistryTarget> {
  return stages.run('far', "the site's registry (started apart)", async () => {
    const running = await startSiteRegistry(gap.far.prefix, join(work, 'site-registry'), plan);
    cleanups.push(() => running.stop());
    await mkdir(join(farDir, 'site'), { recursive: true });
    await copyFile(running.info.caFile, join(farDir, 'site', 'ca.crt'));
    await copyFile(running.info.credentialsFile, join(farDir, 'site', 'credentials'));
    await chmod(join(farDir, 'site', 'credentials'), 0o600);
    return { target: formatRegistryTarget(plan.target), caFile: 'site/ca.crt', credentialsFile: 'site/credentials' };
  });
}

/** Removes a run's working directory (after unmounting anything left under it). */
export async function removeWork(work: string): Promise<void> {
  await unmountAllUnder(work);
  await rm(work, { recursive: true, force: true });
}
