import { access } from 'node:fs/promises';
import { UsageError, withContext, writeFileAtomic, type AgDocument, type KubeadmSection, type KubeadmUpgradeStep } from '@ag/core';
import { createRunner, type RunContext, type Runner } from './context.js';
import { defaultNodeName, PATHS } from './host.js';
import { componentTags, kubeadmImages, sandboxImageFor } from './images.js';
import { installBinary, type BundleBinary } from './install-binary.js';
import { inspectUpgrade, upgradeKind, upgradeRecord, type UpgradeRole, type UpgradeState } from './upgrade-plan.js';
import { parseKubernetesVersion, type KubernetesVersion } from './version.js';

export interface UpgradeOptions extends RunContext {
  /** This node's name (default: the document's, else the hostname). */
  nodeName?: string;
  /** An admin kubeconfig for drain and uncordon on a node without /etc/kubernetes/admin.conf (a worker). */
  adminKubeconfig?: string;
  hostname?: string;
}

export interface UpgradeResult {
  section: KubeadmSection;
  actions: Runner['actions'];
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** The kubelet installed on this node (`kubelet --version`), if it answers. */
async function installedKubelet(runner: Runner): Promise<KubernetesVersion | undefined> {
  const answered = await runner.run('kubelet', ['--version'], { allowFailure: true, streamStderr: false }).catch(() => undefined);
  const match = /v(\d+\.\d+\.\d+)\b/.exec(answered?.stdout ?? '');
  return match === null ? undefined : parseKubernetesVersion(`v${match[1]}`);
}

function nodeName(state: UpgradeState, options: UpgradeOptions): string {
  return options.nodeName ?? (state.controlPlane ? state.section.node.name : state.section.joined?.node ?? defaultNodeName(options.hostname));
}

/**
 * `ag-kubeadm upgrade plan`: what the unpacked bundle changes on this node
 * and in what order, checked (exit 2 when a minor would be skipped or the
 * control plane is behind, exit 5 when a binary or image is missing);
 * nothing changes. Recorded as kubeadm.upgrade with every step `planned`.
 */
export async function planUpgrade(document: AgDocument, options: UpgradeOptions): Promise<UpgradeResult> {
  const runner = createRunner(document, options);
  const state = await inspectUpgrade(document, runner);
  const role: UpgradeRole = state.controlPlane && upgradeKind(state.cluster, state.to) !== undefined ? 'apply' : 'node';
  const from = role === 'apply' ? state.cluster : ((await installedKubelet(runner)) ?? parseKubernetesVersion(state.section.kubernetesVersion));
  const kind = upgradeKind(from, state.to);
  const record = upgradeRecord(state, from, role, nodeName(state, options));
  if (kind === undefined) {
    record.steps = [];
    runner.log.info(`this node already runs ${state.to.text}: nothing to upgrade`);
  } else {
    const after = role === 'node' && state.cluster.text !== state.to.text ? ` (after the control plane: it runs ${state.cluster.text}; ag-kubeadm upgrade apply on the first control-plane node first)` : '';
    runner.log.info(`${kind} upgrade ${from.text} -> ${state.to.text} on ${record.steps[0]!.node}: ag-kubeadm upgrade ${role}${after}`);
    runner.log.info(`every new image is there (${state.images.map((i) => `${i.ref} in ${i.foundIn}`).join(', ')})`);
  }
  return { section: { ...state.section, upgrade: record }, actions: runner.actions };
}

/** Runs the steps in order, recording each (done, or skipped with why). */
async function runSteps(node: string, steps: Array<[string, () => Promise<string | undefined>]>): Promise<KubeadmUpgradeStep[]> {
  const done: KubeadmUpgradeStep[] = [];
  for (const [step, work] of steps) {
    const skipped = await work();
    done.push({ node, step, status: skipped === undefined ? 'done' : 'skipped', ...(skipped === undefined ? {} : { detail: skipped }), at: new Date().toISOString() });
  }
  return done;
}

function install(runner: Runner, binary: BundleBinary): () => Promise<string | undefined> {
  return async () => ((await installBinary(runner, binary)) ? undefined : `${binary.installPath} is already ${binary.name} ${binary.version}`);
}

/**
 * The kubeadm section after the upgrade: the version, the images and the
 * sandbox image of the new release, and the configuration file with its
 * kubernetesVersion moved on (only that line: the rest is what the cluster
 * was made with, and kubeadm upgrade keeps its ClusterConfiguration).
 */
async function afterUpgrade(runner: Runner, document: AgDocument, section: KubeadmSection, to: KubernetesVersion): Promise<KubeadmSection> {
  const tags = componentTags(document);
  const config = section.config.replace(/^kubernetesVersion: .*$/m, `kubernetesVersion: ${to.text}`).replace(/Kubernetes v\d+\.\d+\.\d+/, `Kubernetes ${to.text}`);
  if (!runner.dryRun && config !== section.config) {
    const path = runner.path(section.configFile);
    await writeFileAtomic(path, config, { mode: 0o644 }).catch((e: unknown) => {
      throw withContext(`writing the kubeadm configuration to ${path}`, e);
    });
  }
  return {
    ...section,
    kubernetesVersion: to.text,
    config,
    images: kubeadmImages(to.text, section.imageRepository, tags),
    sandboxImage: sandboxImageFor(section.imageRepository, tags),
  };
}

function restartKubelet(runner: Runner): () => Promise<undefined> {
  return async () => {
    await runner.change('systemctl', ['daemon-reload']);
    await runner.change('systemctl', ['restart', 'kubelet']);
    return undefined;
  };
}

/**
 * `ag-kubeadm upgrade apply`, on the first control-plane node, in upstream's
 * order: the new kubeadm installed first, `kubeadm upgrade apply vX --yes`,
 * drain, kubelet and kubectl replaced, kubelet restarted, uncordon. A step
 * already done (the same binary, the cluster already at vX) is skipped, so
 * a run that stopped half way can be repeated.
 */
export async function applyUpgrade(document: AgDocument, options: UpgradeOptions): Promise<UpgradeResult> {
  const runner = createRunner(document, options);
  const state = await inspectUpgrade(document, runner);
  if (!state.controlPlane) {
    throw new UsageError('upgrade apply runs on the first control-plane node, and this node has no control plane', { hint: 'run ag-kubeadm upgrade node here, after upgrade apply on the control plane' });
  }
  const kind = upgradeKind(state.cluster, state.to);
  const record = upgradeRecord(state, state.cluster, 'apply', nodeName(state, options));
  const node = record.steps[0]!.node;
  const [kubeadm, kubelet, kubectl] = state.binaries as [BundleBinary, BundleBinary, BundleBinary];
  const admin = runner.path(PATHS.adminKubeconfig);
  record.steps = await runSteps(node, [
    ['install-kubeadm', install(runner, kubeadm)],
    [
      'kubeadm-upgrade-apply',
      async () => {
        if (kind === undefined) return `the cluster already runs ${state.to.text}`;
        await runner.change('kubeadm', ['upgrade', 'apply', state.to.text, '--yes'], { streamStdout: true, hint: "read kubeadm's output above; kubeadm rolls a failed static Pod upgrade back itself" });
        return undefined;
      },
    ],
    ['drain', async () => (await runner.change('kubectl', ['--kubeconfig', admin, 'drain', node, '--ignore-daemonsets']), undefined)],
    ['install-kubelet', install(runner, kubelet)],
    ['install-kubectl', install(runner, kubectl)],
    ['restart-kubelet', restartKubelet(runner)],
    ['uncordon', async () => (await runner.change('kubectl', ['--kubeconfig', admin, 'uncordon', node]), undefined)],
  ]);
  const section = await afterUpgrade(runner, document, state.section, state.to);
  return { section: { ...section, upgrade: record }, actions: runner.actions };
}

/**
 * `ag-kubeadm upgrade node`, on every other node once the control plane runs
 * the new version (control plane before workers): the new kubeadm, `kubeadm
 * upgrade node`, drain, kubelet and kubectl, kubelet restarted, uncordon.
 * Draining needs an admin kubeconfig: the node's own admin.conf on a control
 * plane, --admin-kubeconfig on a worker; without one drain and uncordon are
 * skipped and recorded so (drain it from a control-plane node).
 */
export async function upgradeNode(document: AgDocument, options: UpgradeOptions): Promise<UpgradeResult> {
  const runner = createRunner(document, options);
  const state = await inspectUpgrade(document, runner);
  if (state.cluster.text !== state.to.text) {
    upgradeKind(state.cluster, state.to);
    throw new UsageError(`the control plane runs ${state.cluster.text}, not ${state.to.text}: control-plane nodes are upgraded before the others`, {
      hint: 'run ag-kubeadm upgrade apply on the first control-plane node first, then upgrade node here',
    });
  }
  const from = (await installedKubelet(runner)) ?? parseKubernetesVersion(state.section.kubernetesVersion);
  upgradeKind(from, state.to);
  const record = upgradeRecord(state, from, 'node', nodeName(state, options));
  const node = record.steps[0]!.node;
  const [kubeadm, kubelet, kubectl] = state.binaries as [BundleBinary, BundleBinary, BundleBinary];
  const admin = options.adminKubeconfig ?? ((await exists(runner.path(PATHS.adminKubeconfig))) ? runner.path(PATHS.adminKubeconfig) : undefined);
  const withAdmin = (args: string[]) => async (): Promise<string | undefined> => {
    if (admin === undefined) {
      runner.log.warn(`no admin kubeconfig on this node: ${args[0]} ${node} from a control-plane node (kubectl ${args.join(' ')} ${node}), or pass --admin-kubeconfig`);
      return 'no admin kubeconfig on this node (--admin-kubeconfig)';
    }
    await runner.change('kubectl', ['--kubeconfig', admin, ...args.slice(0, 1), node, ...args.slice(1)]);
    return undefined;
  };
  record.steps = await runSteps(node, [
    ['install-kubeadm', install(runner, kubeadm)],
    ['kubeadm-upgrade-node', async () => (await runner.change('kubeadm', ['upgrade', 'node'], { streamStdout: true }), undefined)],
    ['drain', withAdmin(['drain', '--ignore-daemonsets'])],
    ['install-kubelet', install(runner, kubelet)],
    ['install-kubectl', install(runner, kubectl)],
    ['restart-kubelet', restartKubelet(runner)],
    ['uncordon', withAdmin(['uncordon'])],
  ]);
  const section = await afterUpgrade(runner, document, state.section, state.to);
  return { section: { ...section, upgrade: record }, actions: runner.actions };
}
