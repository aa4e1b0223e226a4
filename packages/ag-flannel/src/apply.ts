import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  bundleRoot,
  findProgram,
  formatCommand,
  MissingError,
  pollUntil,
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
  /** How long to wait for the rollout and for the nodes (default 5 min). */
  timeoutMs?: number;
  intervalMs?: number;
  dryRun?: boolean;
}

export interface ApplyResult {
  section: FlannelSection;
  actions: Array<{ action: string; target: string }>;
}

interface NodeList {
  items?: Array<{ metadata?: { name?: string }; status?: { conditions?: Array<{ type?: string; status?: string }> } }>;
}

/** Each node's name and whether its Ready condition is True. */
export function nodeReadiness(list: NodeList): Array<{ name: string; ready: boolean }> {
  return (list.items ?? []).map((node) => ({
    name: node.metadata?.name ?? '(unnamed)',
    ready: (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  }));
}

/**
 * Applies the rendered manifest (checked against the digest render recorded)
 * with the bundle's kubectl and the admin kubeconfig, waits for the flannel
 * DaemonSet's rollout and for every node to become Ready, and records them.
 * It does not render (ag-flannel render does) and never applies an upstream
 * manifest unrendered.
 */
export async function applyFlannel(document: AgDocument, options: ApplyOptions): Promise<ApplyResult> {
  const log = options.log ?? silentLogger;
  const flannel = document.flannel;
  if (flannel === undefined) throw new UsageError('the document has no flannel section', { hint: 'run ag-flannel render first' });
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
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null)
    .find((o) => o?.kind === 'DaemonSet');
  if (daemonSet?.metadata?.name === undefined) throw new UsageError(`${manifestPath} has no DaemonSet`);
  const ds = { namespace: daemonSet.metadata.namespace ?? 'default', name: daemonSet.metadata.name };

  const kubeconfigPath = options.kubeconfig ?? (document.kubeadm?.adminKubeconfig !== undefined ? onHost(document.kubeadm.adminKubeconfig) : undefined);
  if (kubeconfigPath === undefined) {
    throw new MissingError('no admin kubeconfig: the document has no kubeadm.adminKubeconfig', { hint: 'run ag-kubeadm init first, or pass --kubeconfig FILE' });
  }
  const base = ['--kubeconfig', kubeconfigPath];
  const steps = [
    ['apply', '-f', manifestPath],
    ['-n', ds.namespace, 'rollout', 'status', `daemonset/${ds.name}`, `--timeout=${Math.round((options.timeoutMs ?? 300_000) / 1000)}s`],
  ];
  if (options.dryRun) {
    return { section: flannel, actions: steps.map((args) => ({ action: 'run', target: formatCommand('kubectl', [...base, ...args]) })) };
  }
  const kubectl = await findProgram('kubectl', { env: options.io.env, override: options.kubectl, hostRoot, ...programPathsFromDocument(document, 'kubectl') });
  for (const args of steps) {
    log.info(`running ${formatCommand('kubectl', [...base, ...args])}`);
    await runProgram(kubectl, [...base, ...args], {
      env: options.io.env,
      stderr: options.io.stderr,
      streamStdout: true,
      hint: `kubectl -n ${ds.namespace} describe daemonset ${ds.name} and its pods' logs say why`,
    });
  }
  const nodes = await pollUntil(
    async (note) => {
      const r = await runProgram(kubectl, [...base, 'get', 'nodes', '-o', 'json'], { env: options.io.env, stderr: options.io.stderr, streamStderr: false, allowFailure: true });
      if (r.exitCode !== 0) {
        note(r.stderr.trim().split('\n').pop() ?? `exit ${r.exitCode}`);
        return undefined;
      }
      const list = nodeReadiness(JSON.parse(r.stdout) as NodeList);
      const notReady = list.filter((n) => !n.ready).map((n) => n.name);
      if (list.length > 0 && notReady.length === 0) return list;
      note(list.length === 0 ? 'no nodes' : `not Ready: ${notReady.join(', ')}`);
      return undefined;
    },
    {
      what: 'every node to become Ready',
      timeoutMs: options.timeoutMs ?? 300_000,
      intervalMs: options.intervalMs ?? 2000,
      hint: 'kubectl describe node NAME shows the condition; journalctl -u kubelet on that node says why',
    },
  );
  log.info(`all ${nodes.length} node(s) are Ready: ${nodes.map((n) => n.name).join(', ')}`);
  return { section: { ...flannel, daemonSet: ds, appliedAt: new Date().toISOString(), nodes }, actions: [] };
}
