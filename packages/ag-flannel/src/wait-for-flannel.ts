import { ExternalError, pollUntil } from '@ag/core';
import { crashLooping, describeWaiting, flannelByNode, settled, type NodeFlannel, type NodeList, type PodList } from './node-pods.js';

/** `kubectl ARGS -o json`, parsed, or why it gave nothing usable (the next look may). */
export type Kubectl = (args: string[]) => Promise<{ ok: true; json: unknown } | { ok: false; why: string }>;

export interface WaitOptions {
  kubectl: Kubectl;
  /** `kubectl logs …`: its output, or undefined when there is none. */
  logs: (args: string[]) => Promise<string | undefined>;
  namespace: string;
  /** The DaemonSet's pod selector, `app=flannel`. */
  selector: string;
  timeoutMs?: number | undefined;
  intervalMs?: number | undefined;
}

/** The error for a node whose flannel pod keeps crashing: the node, the pod, and what flanneld said last. */
async function crashLoopError(node: NodeFlannel, namespace: string, run: (args: string[]) => Promise<string | undefined>): Promise<ExternalError> {
  const pod = node.pod!;
  const container = pod.waiting!.container;
  const logs = await run(['logs', '-n', namespace, pod.name, '-c', container, '--previous', '--tail=20']);
  const lastLines = logs?.trimEnd().split('\n').slice(-5).join('\n  ');
  const ended = pod.lastTermination === undefined ? '' : ` (last exit ${pod.lastTermination.exitCode ?? '?'}${pod.lastTermination.reason ? `, ${pod.lastTermination.reason}` : ''})`;
  const said = lastLines || pod.lastTermination?.message?.trim() || pod.waiting!.message || 'nothing';
  return new ExternalError(
    `flannel keeps failing on node ${node.name}: pod ${pod.name}, container ${container}, restarted ${pod.restarts} times${ended}; it said last:\n  ${said}`,
    {
      hint:
        `kubectl -n ${namespace} logs ${pod.name} -c ${container} --previous shows the whole log. flanneld chooses its interface on every node: ` +
        'an --iface address exists on one node only; render again with --iface NAME, --iface-regex or --iface-can-reach, then apply',
      details: { node: node.name, pod: pod.name, container },
    },
  );
}

/**
 * Waits until every Linux node is Ready and runs a flannel pod that is
 * Running with every container ready; stops at once, naming the node, the
 * pod and its last words, when one keeps crashing (CRASH_LOOP_RESTARTS).
 */
export async function waitForFlannelOnEveryNode(wait: WaitOptions): Promise<NodeFlannel[]> {
  const { kubectl, logs, namespace, selector } = wait;
  return pollUntil(
    async (note) => {
      const nodes = await kubectl(['get', 'nodes', '-o', 'json']);
      if (!nodes.ok) {
        note(nodes.why);
        return undefined;
      }
      const pods = await kubectl(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json']);
      if (!pods.ok) {
        note(pods.why);
        return undefined;
      }
      const states = flannelByNode(nodes.json as NodeList, pods.json as PodList);
      const broken = states.find(crashLooping);
      if (broken !== undefined) throw await crashLoopError(broken, namespace, logs);
      const waiting = states.filter((node) => !settled(node));
      if (states.length > 0 && waiting.length === 0) return states;
      note(states.length === 0 ? 'no nodes' : waiting.map(describeWaiting).join('; '));
      return undefined;
    },
    {
      what: `every node to be Ready with its flannel pod (${namespace}, ${selector}) Running`,
      timeoutMs: wait.timeoutMs ?? 300_000,
      intervalMs: wait.intervalMs ?? 2000,
      hint: `kubectl -n ${namespace} get pods -l ${selector} -o wide and kubectl describe node NAME say why; journalctl -u kubelet on that node says more`,
    },
  );
}
