import { access, readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { pollUntil, UsageError, withContext, writeFileAtomic, type AgDocument, type KubeadmSection } from '@ag/core';
import { configureKubeadm, type ConfigOptions } from './config.js';
import { createRunner, type RunContext, type Runner } from './context.js';
import { PATHS } from './host.js';
import { createJoinInfo } from './join-info.js';
import { preflight } from './preflight.js';

export interface InitOptions extends RunContext {
  /** Configuration flags: when any is given (or the document has no kubeadm section) the configuration is computed again. */
  config?: Omit<ConfigOptions, 'hostRoot' | 'dryRun' | 'log'>;
  skipPreflight?: boolean;
  /** Bootstrap token lifetime, kubeadm's syntax (default 24h0m0s). */
  tokenTtl?: string;
}

export interface InitResult {
  section: KubeadmSection;
  /** False when the node was already initialised with this configuration. */
  initialised: boolean;
  actions: Runner['actions'];
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Makes sure the configuration file on the node is exactly the document's
 * (computing the document's first when asked or when there is none).
 */
export async function ensureConfig(document: AgDocument, runner: Runner, config: InitOptions['config']): Promise<KubeadmSection> {
  const recompute = document.kubeadm === undefined || (config !== undefined && Object.values(config).some((v) => v !== undefined));
  if (recompute) {
    const result = await configureKubeadm(document, { ...config, hostRoot: runner.hostRoot, dryRun: runner.dryRun, log: runner.log });
    if (result.changed) runner.log.info(`${runner.dryRun ? 'would write' : 'wrote'} ${result.path}`);
    if (runner.dryRun && result.changed) runner.actions.push({ action: 'write-file', target: result.path });
    return result.section;
  }
  const section = document.kubeadm!;
  const path = runner.path(section.configFile);
  const onDisk = await readFile(path, 'utf8').catch(() => undefined);
  if (onDisk !== section.config) {
    if (runner.dryRun) runner.actions.push({ action: 'write-file', target: path });
    else {
      await writeFileAtomic(path, section.config, { mode: 0o644 }).catch((e: unknown) => {
        throw withContext(`writing the kubeadm configuration to ${path}`, e);
      });
      runner.log.info(`wrote ${path} from the document's kubeadm.config`);
    }
  }
  return section;
}

/** A few fields the running cluster must share with this configuration, from the kubeadm-config ConfigMap. */
async function checkSameCluster(runner: Runner, section: KubeadmSection): Promise<void> {
  const result = await runner.run(
    'kubectl',
    ['--kubeconfig', runner.path(PATHS.adminKubeconfig), '-n', 'kube-system', 'get', 'configmap', 'kubeadm-config', '-o', 'jsonpath={.data.ClusterConfiguration}'],
    { streamStderr: false, hint: 'the node looks initialised but its API server does not answer; ag-kubeadm reset tears it down' },
  );
  const running = (parse(result.stdout) ?? {}) as Record<string, unknown>;
  const wanted = (parse(section.config.split(/^---$/m).find((d) => /kind:\s*ClusterConfiguration/.test(d)) ?? '') ?? {}) as Record<string, unknown>;
  const pick = (c: Record<string, unknown>): Record<string, unknown> => {
    const net = (c['networking'] ?? {}) as Record<string, unknown>;
    return {
      kubernetesVersion: c['kubernetesVersion'],
      controlPlaneEndpoint: c['controlPlaneEndpoint'] || undefined,
      imageRepository: c['imageRepository'],
      podSubnet: net['podSubnet'],
      serviceSubnet: net['serviceSubnet'],
      dnsDomain: net['dnsDomain'],
    };
  };
  const have = pick(running);
  const want = pick(wanted);
  const differences = Object.keys(want).filter((k) => have[k] !== want[k]);
  if (differences.length > 0) {
    throw new UsageError(
      `this node is already initialised with a different configuration: ${differences.map((k) => `${k} is ${JSON.stringify(have[k])}, the document wants ${JSON.stringify(want[k])}`).join('; ')}`,
      { hint: 'run ag-kubeadm reset on this node first, or fix the document to describe the running cluster' },
    );
  }
}

/** Waits until the API server answers /readyz and this node is registered. */
export async function waitForControlPlane(runner: Runner, nodeName: string, kubeconfig = runner.path(PATHS.adminKubeconfig)): Promise<void> {
  const base = ['--kubeconfig', kubeconfig];
  await pollUntil(
    async (note) => {
      const r = await runner.run('kubectl', [...base, 'get', '--raw', '/readyz'], { allowFailure: true, streamStderr: false });
      if (r.exitCode === 0) return true;
      note((r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.exitCode}`);
      return undefined;
    },
    { what: 'the API server to answer /readyz', timeoutMs: runner.timeoutMs, intervalMs: runner.intervalMs, hint: 'look at kubelet (journalctl -u kubelet) and crictl ps -a' },
  );
  runner.log.info('the API server is ready');
  await pollUntil(
    async (note) => {
      const r = await runner.run('kubectl', [...base, 'get', 'node', nodeName, '-o', 'name'], { allowFailure: true, streamStderr: false });
      if (r.exitCode === 0) return true;
      note((r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.exitCode}`);
      return undefined;
    },
    { what: `node ${nodeName} to register`, timeoutMs: runner.timeoutMs, intervalMs: runner.intervalMs, hint: 'look at kubelet (journalctl -u kubelet)' },
  );
  runner.log.info(`node ${nodeName} is registered`);
}

/**
 * `kubeadm init` with the document's configuration: writes the file, checks
 * the images and the sandbox image, runs `kubeadm init --config FILE`
 * (`--upload-certs` with a control-plane endpoint) with its output on
 * stderr, waits for the API server and the node, and records the admin
 * kubeconfig and fresh join information. On a node already initialised with
 * the same configuration it skips kubeadm and only emits fresh join
 * information. It does not install a CNI (ag-flannel does).
 */
export async function initCluster(document: AgDocument, options: InitOptions): Promise<InitResult> {
  const runner = createRunner(document, options);
  const section = await ensureConfig(document, runner, options.config);
  const configPath = runner.path(section.configFile);
  const initialised = (await exists(runner.path(PATHS.adminKubeconfig))) && (await exists(runner.path(PATHS.apiServerManifest)));
  const result: KubeadmSection = { ...section };

  if (initialised) {
    runner.log.info(`this node is already initialised (${PATHS.adminKubeconfig} and ${PATHS.apiServerManifest} exist); checking it is the same cluster`);
    if (runner.dryRun) return { section: result, initialised: false, actions: runner.actions };
    await checkSameCluster(runner, section);
  } else {
    if (options.skipPreflight) runner.log.warn('--skip-preflight: not checking images and the sandbox image');
    else if (!runner.dryRun) {
      result.preflight = await preflight(document, section, runner);
      runner.log.info(`preflight: all ${result.preflight.images.length} images kubeadm asks for are there, and containerd's sandbox image is ${section.sandboxImage}`);
    } else runner.actions.push({ action: 'preflight', target: `${section.images.length} images and the sandbox image ${section.sandboxImage}` });
    const args = ['init', '--config', configPath];
    if (section.controlPlaneEndpoint !== undefined) args.push('--upload-certs');
    await runner.change('kubeadm', args, { streamStdout: true, hint: 'read kubeadm\'s output above; ag-kubeadm reset cleans up before another try' });
    if (runner.dryRun) return { section: result, initialised: false, actions: runner.actions };
    result.initializedAt = new Date().toISOString();
  }
  await waitForControlPlane(runner, section.node.name);
  result.adminKubeconfig = PATHS.adminKubeconfig;
  result.join = await createJoinInfo(runner, section, { tokenTtl: options.tokenTtl ?? '24h0m0s' });
  runner.log.info(`join information: ${result.join.apiServerEndpoint}, token in ${result.join.tokenFile}, ${result.join.caCertHashes[0]}`);
  return { section: result, initialised: !initialised, actions: runner.actions };
}
