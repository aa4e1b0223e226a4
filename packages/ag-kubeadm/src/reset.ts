import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MissingError, type AgDocument, type KubeadmSection } from '@ag/core';
import { createRunner, type RunContext, type Runner } from './context.js';
import { DEFAULT_CRI_SOCKET, PATHS } from './host.js';
import { removeOwnedRules } from './iptables.js';

export interface ResetOptions extends RunContext {
  /** Leave iptables alone. */
  keepIptables?: boolean;
}

export interface ResetResult {
  section: KubeadmSection | undefined;
  actions: Runner['actions'];
}

// Interfaces flannel and the bridge CNI plugin create.
const CNI_LINKS = ['cni0', 'flannel.1', 'flannel-v6.1'];

async function cleanIptables(runner: Runner): Promise<void> {
  for (const family of ['iptables', 'ip6tables']) {
    let saved: string;
    try {
      saved = (await runner.run(`${family}-save`, [], { streamStderr: false })).stdout;
    } catch (error) {
      if (error instanceof MissingError) {
        runner.log.debug(`${family}-save is not installed; skipping ${family}`);
        continue;
      }
      throw error;
    }
    const filtered = removeOwnedRules(saved);
    if (filtered.removedChains.length === 0 && filtered.removedRules === 0) continue;
    const what = `${filtered.removedChains.length} chain(s) and ${filtered.removedRules} rule(s) of kube-proxy, flannel and CNI`;
    if (runner.dryRun) {
      runner.actions.push({ action: 'remove-iptables-rules', target: `${family}: ${what}` });
      continue;
    }
    await runner.run(`${family}-restore`, [], { input: filtered.text });
    runner.log.info(`${family}: removed ${what}`);
  }
}

async function removePath(runner: Runner, path: string): Promise<void> {
  if (runner.dryRun) runner.actions.push({ action: 'remove', target: path });
  else await rm(path, { recursive: true, force: true });
}

/**
 * Tears this node down: `kubeadm reset --force`, flannel's CNI
 * configuration, flannel's and the bridge's interfaces, the iptables rules
 * kube-proxy, flannel and the CNI plugins own (nothing else), and the join
 * secrets ag-kubeadm wrote. Keeps the kubeadm configuration file and the
 * document's configuration, so `ag-kubeadm init` can run again.
 */
export async function resetNode(document: AgDocument | undefined, options: ResetOptions): Promise<ResetResult> {
  const runner = createRunner(document, options);
  const criSocket = document?.kubeadm?.node.criSocket ?? DEFAULT_CRI_SOCKET;
  await runner.change('kubeadm', ['reset', '--force', '--cri-socket', criSocket], { streamStdout: true });
  const cniDir = runner.path(PATHS.cniConfigDir);
  const cniFiles = await readdir(cniDir).catch(() => [] as string[]);
  for (const name of cniFiles.filter((n) => /flannel/i.test(n))) await removePath(runner, join(cniDir, name));
  await removePath(runner, runner.path('/run/flannel'));
  for (const link of CNI_LINKS) {
    const shown = await runner.run('ip', ['-o', 'link', 'show', link], { allowFailure: true, streamStderr: false }).catch(() => undefined);
    if (shown?.exitCode === 0) await runner.change('ip', ['link', 'delete', link]);
  }
  if (!options.keepIptables) await cleanIptables(runner);
  for (const path of [PATHS.tokenFile, PATHS.certificateKeyFile, PATHS.joinConfigFile]) await removePath(runner, runner.path(path));
  let section: KubeadmSection | undefined;
  if (document?.kubeadm !== undefined) {
    section = { ...document.kubeadm };
    // A worker's reset leaves the cluster's join information for the next node; a control plane's is void.
    const gone = section.joined !== undefined ? (['joined', 'preflight'] as const) : (['adminKubeconfig', 'initializedAt', 'join', 'joined', 'preflight'] as const);
    for (const key of gone) delete section[key];
  }
  return { section, actions: runner.actions };
}
