import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { waitForFlannelOnEveryNode, type Kubectl } from './wait-for-flannel.js';
import {
  bundleRoot,
  findProgram,
  formatCommand,
  MissingError,
  programPathsFromDocument,
  resolveInRoot,
  runProgram,
  silentLogger,
  UsageError,
  VerificationError,
  withContext,
  type AgDocument,
  type FlannelSection,
  type Io,
  type Logger,
} from '@ag/core';

export interface ApplyOptions {
  io: Pick<Io, 'env' | 'stderr'>;
  log?: Logger;
  /** The admin kubeconfig (default: the document's kubeadm.adminKubeconfig). */
  kubeconfig?: string;
  /** kubectl to run (default: the bundle's, installed by ag-nodeprep, else PATH). */
  kubectl?: string;
  /** Prefix for node paths such as the admin kubeconfig (default `/`). */
  hostRoot?: string;
  /** The bundle root (default: the document's root). */
  dir?: string;
  cwd?: string;
  /** How long to wait for the nodes and their flannel pods, and for the rollout (default 5 min each). */
  timeoutMs?: number;
  intervalMs?: number;
  dryRun?: boolean;
}

export interface ApplyResult {
  section: FlannelSection;
  actions: Array<{ action: string; target: string }>;
}

interface DaemonSetObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { selector?: { matchLabels?: Record<string, string> } };
}

/** The DaemonSet's pod selector as `kubectl -l` takes it (`app=flannel`). */
function selectorOf(daemonSet: DaemonSetObject, manifestPath: string): string {
  const labels = Object.entries(daemonSet.spec?.selector?.matchLabels ?? {});
  if (labels.length === 0) throw new UsageError(`${manifestPath}: the DaemonSet has no spec.selector.matchLabels to find its pods by`);
  return labels.map(([key, value]) => `${key}=${value}`).join(',');
}

/**
 * Applies the rendered manifest (checked against the digest render recorded)
 * with the bundle's kubectl and the admin kubeconfig, waits until every node
 * is Ready and runs a flannel pod that is Running (failing fast, with the
 * pod's last words, when one keeps crashing), then for the DaemonSet's
 * rollout, and records the nodes and their pods. It does not render
 * (ag-flannel render does) and never applies an upstream manifest unrendered.
 */
export async function applyFlannel(document: AgDocument, options: ApplyOptions): Promise<ApplyResult> {
  const log = options.log ?? silentLogger;
  const flannel = document.flannel;
  if (flannel === undefined) throw new UsageError('the document has no flannel section', { hint: 'run ag-flannel render first' });
  if (document.cluster !== undefined && flannel.podSubnet !== document.cluster.podSubnet) {
    throw new UsageError(`the manifest was rendered for the pod network ${flannel.podSubnet}, but cluster.podSubnet is ${document.cluster.podSubnet}`, {
      hint: 'run ag-flannel render again: flannel and kubeadm must use the same pod network',
    });
  }
  const hostRoot = options.hostRoot ?? '/';
  const onHost = (p: string): string => (hostRoot === '/' ? p : join(hostRoot, p));
  const manifestPath = isAbsolute(flannel.manifest) ? flannel.manifest : resolveInRoot(bundleRoot(document, options.dir, options.cwd), flannel.manifest);
  const text = await readFile(manifestPath, 'utf8').catch((e: unknown) => {
    throw withContext(`reading the rendered manifest ${manifestPath}`, e);
  });
  const actual = createHash('sha256').update(text).digest('hex');
  if (actual !== flannel.sha256) {
    throw new VerificationError(`${manifestPath} has sha256 ${actual}, not the ${flannel.sha256} ag-flannel render recorded`, {
      hint: 'it was changed after rendering: run ag-flannel render again',
    });
  }
  const daemonSet = parseAllDocuments(text)
    .map((d) => d.toJS() as DaemonSetObject | null)
    .find((o) => o?.kind === 'DaemonSet');
  if (daemonSet?.metadata?.name === undefined) throw new UsageError(`${manifestPath} has no DaemonSet`);
  const ds = { namespace: daemonSet.metadata.namespace ?? 'default', name: daemonSet.metadata.name };
  const selector = selectorOf(daemonSet, manifestPath);

  const kubeconfigPath = options.kubeconfig ?? (document.kubeadm?.adminKubeconfig !== undefined ? onHost(document.kubeadm.adminKubeconfig) : undefined);
  if (kubeconfigPath === undefined) {
    throw new MissingError('no admin kubeconfig: the document has no kubeadm.adminKubeconfig', { hint: 'run ag-kubeadm init first, or pass --kubeconfig FILE' });
  }
  const base = ['--kubeconfig', kubeconfigPath];
  const applyArgs = ['apply', '-f', manifestPath];
  // After the pods: with a changed manifest the old generation's pods are Running until the rollout replaces them.
  const rolloutArgs = ['-n', ds.namespace, 'rollout', 'status', `daemonset/${ds.name}`, `--timeout=${Math.round((options.timeoutMs ?? 300_000) / 1000)}s`];
  if (options.dryRun) {
    const steps = [applyArgs, ['get', 'nodes', '-o', 'json'], ['get', 'pods', '-n', ds.namespace, '-l', selector, '-o', 'json'], rolloutArgs];
    return { section: flannel, actions: steps.map((args) => ({ action: 'run', target: formatCommand('kubectl', [...base, ...args]) })) };
  }
  const kubectl = await findProgram('kubectl', { env: options.io.env, override: options.kubectl, hostRoot, ...programPathsFromDocument(document, 'kubectl') });
  const hint = `kubectl -n ${ds.namespace} describe daemonset ${ds.name} and its pods' logs say why`;
  const run = async (args: string[]): Promise<void> => {
    log.info(`running ${formatCommand('kubectl', [...base, ...args])}`);
    await runProgram(kubectl, [...base, ...args], { env: options.io.env, stderr: options.io.stderr, streamStdout: true, hint });
  };
  const capture = async (args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> =>
    runProgram(kubectl, [...base, ...args], { env: options.io.env, stderr: options.io.stderr, streamStderr: false, allowFailure: true });
  const getJson: Kubectl = async (args) => {
    const r = await capture(args);
    if (r.exitCode !== 0) return { ok: false, why: r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}` };
    try {
      return { ok: true, json: JSON.parse(r.stdout) as unknown };
    } catch {
      return { ok: false, why: `kubectl ${args.join(' ')} printed no JSON` };
    }
  };
  const logs = async (args: string[]): Promise<string | undefined> => {
    const r = await capture(args);
    return r.exitCode === 0 ? r.stdout : undefined;
  };

  await run(applyArgs);
  const nodes = await waitForFlannelOnEveryNode({ kubectl: getJson, logs, namespace: ds.namespace, selector, timeoutMs: options.timeoutMs, intervalMs: options.intervalMs });
  log.info(`flannel runs on all ${nodes.length} node(s), each Ready: ${nodes.map((n) => `${n.name} (${n.pod!.name})`).join(', ')}`);
  await run(rolloutArgs);
  return {
    section: { ...flannel, daemonSet: ds, appliedAt: new Date().toISOString(), nodes: nodes.map((n) => ({ name: n.name, ready: n.ready, pod: n.pod!.name })) },
    actions: [],
  };
}
