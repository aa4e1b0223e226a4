import { chmod, cp, lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { AgDocument } from '@ag/core';
import { execa } from 'execa';
import { cachedDebianRoot, kubectlStandIn, startContainerd, writeKubeadmDouble } from '@ag/fixtures';
import { adaptContainerdConfig, writeFarRoot } from './far-root.js';
import { writeHelmDouble } from './helm-double.js';
import { CERTS_DIR, CONTAINERD_DIR, ctr, manifestImages, pullByUpstreamName, type Cleanups } from './far-side.js';
import type { Shell } from './shell.js';
import type { Stages } from './stages.js';
import { REPO_ROOT } from './tools.js';
import { CLUSTER, FAR_BIN, TRIP_TOOLS, type Step } from './trip/steps.js';
import { NETNS_ROOTS, type FarNode, type World } from './trip/world.js';

/**
 * systemctl for ag-kubeadm upgrade where no systemd runs: it takes the two
 * calls an upgrade makes (daemon-reload, restart kubelet) and records them
 * next to itself; anything else fails as systemctl would without systemd.
 */
const SYSTEMCTL_STAND_IN = `#!/bin/sh
case "$*" in
  daemon-reload|"restart kubelet") printf '%s\\n' "systemctl $*" >> "$(dirname "$0")/systemctl.log" ;;
  *) echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2; exit 1 ;;
esac
`;

/** What the netns run of a trip left, read back from the documents the steps wrote. */
export interface NetnsTripOutputs {
  /** stdout of each step's commands, by step id. */
  stdout: Map<string, string[]>;
  /** Every file on the far side right after the carry (relative to its directory), the step scripts left out. */
  carried: string[];
  containerdConfig: string;
  podinfoOutput: string;
  clusterImages: string[];
  nextImages: string[];
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full, base)));
    else out.push(relative(base, full));
  }
  return out.sort();
}

export const readDocument = async (dir: string, file: string): Promise<AgDocument> => JSON.parse(await readFile(join(dir, file), 'utf8')) as AgDocument;

/** `bin/ag-X` on the connected side: the tool built from this checkout, run with this machine's node. */
export async function writeConnectedBin(connectedDir: string): Promise<void> {
  await mkdir(join(connectedDir, FAR_BIN), { recursive: true });
  for (const tool of TRIP_TOOLS) {
    await writeFile(join(connectedDir, FAR_BIN, tool), `#!/bin/sh\nexec ${process.execPath} ${join(connectedDir, 'tools', `${tool}.mjs`)} "$@"\n`);
    await chmod(join(connectedDir, FAR_BIN, tool), 0o755);
  }
}

export interface NetnsSides {
  connected: Shell;
  far: Shell;
  /** The far network namespace (containerd joins it with nsenter). */
  farNamespace: string;
  nextImages: string[];
  /** The leak step: the far namespace's black hole, counted from outside it (scenario.ts). */
  checkLeak: () => Promise<void>;
}

/**
 * Runs the trip's steps (trip/steps.ts) in order between two network
 * namespaces on this machine: each step's commands with bash in its side's
 * namespace and directory (the ag tools on PATH: built from this checkout
 * on the connected side, the bundle's executable on the far side), each
 * carry as a copy, and the steps the scenario marks `local` (what only this
 * world needs, with no kubelet: containerd started by hand, the kubeadm
 * double, the stand-in node trees) here.
 */
export async function runTripInNetns(steps: Step[], world: World, sides: NetnsSides, stages: Stages, cleanups: Cleanups): Promise<NetnsTripOutputs> {
  const { connected, far } = sides;
  const outputs: NetnsTripOutputs = { stdout: new Map(), carried: [], containerdConfig: '', podinfoOutput: '', clusterImages: [], nextImages: sides.nextImages };
  const at = (...path: string[]): string => join(far.cwd, ...path);
  const rootOf = (node: FarNode): string => NETNS_ROOTS[node.name] ?? `${node.name}-root`;
  const nodes = [...world.topology.controlPlanes, ...world.topology.workers];

  /** Every node's kubeadm double of `version`, on the one cluster the far side shares. */
  const writeDoubles = async (version: string): Promise<void> => {
    for (const node of nodes) {
      await writeKubeadmDouble(at('kubeadm-double', node.name, 'kubeadm'), { version, root: at(rootOf(node)), cluster: at('kubeadm-double', 'cluster'), hostname: node.name, standalone: true });
    }
  };
  const local: Record<string, (step: Step) => Promise<void>> = {
    prepare: () => writeFarRoot(at('root')),
    'os-packages': async () => {
      // Built once by debootstrap and cached (tools/fixtures debian-root.ts); a fresh copy per run.
      const cached = await cachedDebianRoot();
      const dir = at(world.packagesRoot!.dir);
      await mkdir(dir, { recursive: true });
      far.reporter.note('the cached root is debootstrap --variant=minbase bookworm, with an empty usr/lib/systemd/systemd for ag-nodeprep\'s init check');
      far.reporter.command(`tar --numeric-owner --xattrs -xpf ${cached.tarball} -C ${world.packagesRoot!.dir}   # debootstrap --variant=minbase bookworm, cached`);
      await execa('tar', ['--numeric-owner', '--xattrs', '-xpf', cached.tarball, '-C', dir]);
      // minbase has no systemd, which ag-nodeprep requires of a node; only its presence matters here (nothing boots this tree).
      await mkdir(join(dir, 'usr/lib/systemd'), { recursive: true });
      await writeFile(join(dir, 'usr/lib/systemd/systemd'), '', { flag: 'wx' });
    },
    containerd: async () => {
      outputs.containerdConfig = await readFile(at('root', 'etc', 'containerd', 'config.toml'), 'utf8');
      const dir = at(CONTAINERD_DIR);
      await mkdir(dir, { recursive: true });
      const config = adaptContainerdConfig(outputs.containerdConfig, dir, at(CERTS_DIR));
      await writeFile(at('containerd.toml'), config);
      far.reporter.command(`nsenter --net=/run/netns/${sides.farNamespace} containerd --config containerd.toml   # ag-nodeprep's config.toml; only root, state, sockets and config_path moved here`);
      // nsenter --net, not ip netns exec: the latter mounts a fresh /sys, without the cgroup hierarchy runc needs.
      const containerd = await startContainerd({ config, dir, prefix: ['nsenter', `--net=/run/netns/${sides.farNamespace}`] });
      cleanups.push(() => containerd.stop());
      await pullByUpstreamName(far, 'registry.k8s.io/pause:3.9');
      await pullByUpstreamName(far, CLUSTER.appImage, 'default');
      outputs.podinfoOutput = (await far.run(ctr(far, ['run', '--rm', CLUSTER.appImage, `podinfo-${process.pid}`]))).stdout;
      far.reporter.note(`podinfo printed: ${outputs.podinfoOutput.trim()}`);
    },
    'cluster-images': async () => {
      const kubeadm = await readDocument(far.cwd, 'doc/kubeadm.json');
      const flannel = await readDocument(far.cwd, 'doc/flannel.json');
      const manifest = await readFile(at('bundle', flannel.flannel!.manifest), 'utf8');
      outputs.clusterImages = [...new Set([...kubeadm.kubeadm!.images.map((i) => i.ref), ...manifestImages(manifest)])];
      for (const ref of outputs.clusterImages) await pullByUpstreamName(far, ref);
    },
    'kubeadm-double': async () => {
      const version = (await readDocument(far.cwd, 'doc/kubeadm.json')).kubeadm!.kubernetesVersion;
      const cluster = at('kubeadm-double', 'cluster');
      await mkdir(cluster, { recursive: true });
      await writeDoubles(version);
      for (const node of nodes) {
        // kubeadm and ctr look for containerd's socket at the usual place in the node's tree
        // (never through a var/run -> /run link onto this machine's own /run).
        if ((await lstat(at(rootOf(node), 'var/run')).catch(() => undefined))?.isSymbolicLink()) throw new Error(`${at(rootOf(node), 'var/run')} is a symlink`);
        await mkdir(at(rootOf(node), 'var/run/containerd'), { recursive: true });
        await symlink(at(CONTAINERD_DIR, 'containerd.sock'), at(rootOf(node), 'var/run/containerd/containerd.sock')).catch(() => undefined);
      }
      await writeFile(at('kubeadm-double', 'kubectl'), `#!/bin/sh\n${kubectlStandIn(cluster)}`);
      await chmod(at('kubeadm-double', 'kubectl'), 0o755);
    },
    'next-kubeadm-double': async () => {
      await writeDoubles(world.nextVersion);
      await writeFile(at(FAR_BIN, 'systemctl'), SYSTEMCTL_STAND_IN);
      await chmod(at(FAR_BIN, 'systemctl'), 0o755);
    },
    helm: () => writeHelmDouble(at(FAR_BIN, 'helm'), { containerdSocket: at(CONTAINERD_DIR, 'containerd.sock'), hostsDir: at(CERTS_DIR), platform: `linux/${world.arch}` }),
    'next-images': async () => {
      for (const ref of sides.nextImages) await pullByUpstreamName(far, ref);
    },
    leak: () => sides.checkLeak(),
  };
  for (const node of nodes.slice(1)) local[`${node.name}:prepare`] = () => writeFarRoot(at(rootOf(node)));

  const place = (spec: string): string => {
    const [where, path] = spec.split(/:(.*)/s) as [string, string];
    if (where === 'connected') return join(connected.cwd, path);
    if (where === 'repo') return join(REPO_ROOT, path);
    return at(path); // every far node shares the far directory here
  };

  for (const step of steps) {
    const side = step.place.side;
    await stages.run(side, step.title, async () => {
      if (step.local !== undefined) {
        const handler = local[step.id];
        if (handler === undefined) throw new Error(`the scenario says the netns driver does step ${step.id} itself (${step.local}), and it has no handler for it`);
        await handler(step);
      }
      for (const [from, to] of step.carry ?? []) {
        connected.reporter.command(`cp -R ${from} ${to}`);
        await mkdir(join(place(to), '..'), { recursive: true });
        await cp(place(from), place(to), { recursive: true });
        if ((await stat(place(to))).isFile()) connected.reporter.note(`${(await stat(place(to))).size} bytes carried`);
      }
      if (step.id === 'carry') outputs.carried = (await listFiles(far.cwd)).filter((file) => !file.startsWith('steps/'));
      const shell = side === 'connected' ? connected : far;
      const stdout: string[] = [];
      for (const command of step.commands) stdout.push((await shell.run({ argv: ['bash', '-euo', 'pipefail', '-c', command], display: command })).stdout);
      outputs.stdout.set(step.id, stdout);
    });
  }
  return outputs;
}
