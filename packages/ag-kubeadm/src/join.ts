import { access, readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { MissingError, UsageError, withContext, writeFileAtomic, type AgDocument, type KubeadmSection } from '@ag/core';
import { parsePairs } from './config.js';
import { createRunner, type RunContext, type Runner } from './context.js';
import { DEFAULT_CRI_SOCKET, defaultNodeName, detectAdvertiseAddress, PATHS, type HostNetwork } from './host.js';
import { joinConfigurationObject } from './kubeadm-config.js';
import { preflight } from './preflight.js';
import { waitForControlPlane } from './init.js';

export interface JoinOptions extends RunContext {
  controlPlane?: boolean;
  /** Where the token is on this node (default: the document's tokenFile). */
  tokenFile?: string;
  certificateKeyFile?: string;
  advertiseAddress?: string;
  nodeName?: string;
  criSocket?: string;
  kubeletArgs?: string[];
  skipPreflight?: boolean;
  /** Resolves relative --token-file paths. */
  cwd?: string;
  network?: HostNetwork;
  hostname?: string;
}

export interface JoinResult {
  section: KubeadmSection;
  joined: boolean;
  actions: Runner['actions'];
}

async function readSecret(path: string, what: string, hint: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingError(`the ${what} file ${path} is not on this node`, { hint });
    throw withContext(`reading the ${what} from ${path}`, error);
  }
}

/**
 * Joins this node to the cluster the document's join information describes
 * (written by `ag-kubeadm init` on a control-plane node): reads the token
 * (and for `--control-plane` the certificate key) from their 0600 files,
 * writes a 0600 JoinConfiguration for the document's API version, runs
 * `kubeadm join --config FILE`, waits until the node is registered, and
 * removes the file (it holds the token). A node that already has
 * /etc/kubernetes/kubelet.conf is reported as joined and left alone.
 */
export async function joinNode(document: AgDocument, options: JoinOptions): Promise<JoinResult> {
  const section = document.kubeadm;
  const join = section?.join;
  if (section === undefined || join === undefined) {
    throw new UsageError('the document has no kubeadm.join information', {
      hint: 'pipe in the document ag-kubeadm init wrote on the first control-plane node (e.g. ssh cp1 cat cluster.json | ag-kubeadm join)',
    });
  }
  const runner = createRunner(document, options);
  const controlPlane = options.controlPlane ?? false;
  if (controlPlane && section.controlPlaneEndpoint === undefined) {
    throw new UsageError('--control-plane needs a cluster initialised with a control-plane endpoint', {
      hint: 'kubeadm cannot add control-plane nodes to a cluster without one; re-create it with ag-kubeadm config --control-plane-endpoint HOST:PORT',
    });
  }
  const node = {
    name: options.nodeName ?? defaultNodeName(options.hostname),
    advertiseAddress: options.advertiseAddress ?? detectAdvertiseAddress(options.network),
    bindPort: section.node.bindPort,
    criSocket: options.criSocket ?? section.node.criSocket ?? DEFAULT_CRI_SOCKET,
  };
  const result: KubeadmSection = { ...section };
  const joinedAlready = await access(runner.path(PATHS.kubeletKubeconfig)).then(
    () => true,
    () => false,
  );
  if (joinedAlready) {
    runner.log.info(`this node already belongs to a cluster (${PATHS.kubeletKubeconfig} exists); nothing to do (ag-kubeadm reset first to join again)`);
    return { section: result, joined: false, actions: runner.actions };
  }
  const copyHint = (file: string): string =>
    `copy it from the control-plane node (scp CP:${file} ${file}, mode 0600) or pass its path; ag-kubeadm init there writes a fresh one`;
  const tokenPath = options.tokenFile !== undefined ? resolve(options.cwd ?? process.cwd(), options.tokenFile) : runner.path(join.tokenFile);
  const token = await readSecret(tokenPath, 'bootstrap token', copyHint(join.tokenFile));
  let certificateKey: string | undefined;
  if (controlPlane) {
    const keyFile = join.certificateKeyFile ?? PATHS.certificateKeyFile;
    const keyPath = options.certificateKeyFile !== undefined ? resolve(options.cwd ?? process.cwd(), options.certificateKeyFile) : runner.path(keyFile);
    certificateKey = await readSecret(keyPath, 'certificate key', copyHint(keyFile));
  }
  const kubeletArgs = parsePairs('--kubelet-arg', options.kubeletArgs);
  if (!kubeletArgs.some(([n]) => n === 'node-ip')) kubeletArgs.unshift(['node-ip', node.advertiseAddress]);
  const text = stringify(
    joinConfigurationObject({
      apiVersion: section.apiVersion,
      node,
      kubeletArgs,
      apiServerEndpoint: join.apiServerEndpoint,
      token,
      caCertHashes: join.caCertHashes,
      certificateKey,
    }),
    { lineWidth: 0 },
  );
  const joinConfig = runner.path(PATHS.joinConfigFile);
  if (!options.skipPreflight && !runner.dryRun) {
    // A worker runs pause and kube-proxy before the CNI; a control-plane node runs every image of the cluster's configuration.
    // Neither reads kubeadm-config.yaml: only the first control plane has it (see PreflightScope).
    const images = (controlPlane ? section.images : section.images.filter((i) => i.component === 'pause' || i.component === 'kube-proxy')).map((i) => i.ref);
    result.preflight = await preflight(document, { ...section, node }, runner, { kind: 'join', controlPlane, images });
  }
  if (runner.dryRun) {
    runner.actions.push({ action: 'write-file', target: joinConfig });
  } else {
    await writeFileAtomic(joinConfig, text, { mode: 0o600 });
  }
  try {
    await runner.change('kubeadm', ['join', '--config', joinConfig], { streamStdout: true, hint: "read kubeadm's output above; ag-kubeadm reset cleans up before another try" });
  } finally {
    if (!runner.dryRun) await rm(joinConfig, { force: true });
  }
  if (runner.dryRun) return { section: result, joined: false, actions: runner.actions };
  // The kubelet's own credentials may read its Node object (the Node authorizer).
  await waitForControlPlane(runner, node.name, runner.path(controlPlane ? PATHS.adminKubeconfig : PATHS.kubeletKubeconfig));
  result.joined = { node: node.name, controlPlane, apiServerEndpoint: join.apiServerEndpoint, joinedAt: new Date().toISOString() };
  return { section: result, joined: true, actions: runner.actions };
}
