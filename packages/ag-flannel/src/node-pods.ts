/**
 * What `kubectl get nodes -o json` and `kubectl get pods -o json` say about
 * flannel on each node: the fields of core/v1 Node and Pod that matter here
 * (k8s.io/api/core/v1 types.go), read defensively (a field may be absent).
 */

interface ObjectMeta {
  name?: string;
  labels?: Record<string, string>;
  deletionTimestamp?: string;
}

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode?: number; reason?: string; message?: string; finishedAt?: string };
}

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

export interface PodList {
  items?: Array<{
    metadata?: ObjectMeta;
    spec?: { nodeName?: string };
    status?: { phase?: string; reason?: string; message?: string; initContainerStatuses?: ContainerStatus[]; containerStatuses?: ContainerStatus[] };
  }>;
}

export interface NodeList {
  items?: Array<{ metadata?: ObjectMeta; status?: { conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }> } }>;
}

/** One flannel pod as far as waiting for it goes. */
export interface FlannelPod {
  name: string;
  phase: string;
  /** Running, and every container ready. */
  running: boolean;
  /** The first container not running, and why (PodInitializing, CrashLoopBackOff, ImagePullBackOff…). */
  waiting?: { container: string; reason: string; message?: string | undefined };
  /** The most restarts of any of its containers. */
  restarts: number;
  /** How the waiting container ended last time. */
  lastTermination?: { exitCode?: number | undefined; reason?: string | undefined; message?: string | undefined };
}

export interface NodeFlannel {
  name: string;
  ready: boolean;
  /** The Ready condition's reason and message when it is not True. */
  notReady?: string;
  pod?: FlannelPod;
}

/**
 * A container in CrashLoopBackOff this many times over is broken, not slow:
 * flanneld may exit once or twice on a fresh node (its pod CIDR not assigned
 * yet), and the kubelet's back-off (10 s, doubling) puts three restarts more
 * than a minute after the first start.
 */
export const CRASH_LOOP_RESTARTS = 3;

function flannelPod(pod: NonNullable<PodList['items']>[number]): FlannelPod {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const main = pod.status?.containerStatuses ?? [];
  const phase = pod.status?.phase ?? 'Unknown';
  const stuck = statuses.find((s) => s.state?.waiting !== undefined);
  const result: FlannelPod = {
    name: pod.metadata?.name ?? '(unnamed)',
    phase,
    running: phase === 'Running' && main.length > 0 && main.every((s) => s.ready === true),
    restarts: Math.max(0, ...statuses.map((s) => s.restartCount ?? 0)),
  };
  if (stuck !== undefined) {
    result.waiting = { container: stuck.name ?? '(unnamed)', reason: stuck.state!.waiting!.reason ?? 'Waiting', message: stuck.state!.waiting!.message };
    const last = stuck.lastState?.terminated;
    if (last !== undefined) result.lastTermination = { exitCode: last.exitCode, reason: last.reason, message: last.message };
  }
  return result;
}

/**
 * Every node flannel runs on (Linux: the DaemonSet's node affinity), whether
 * it is Ready, and its flannel pod: the one not being deleted, else any.
 */
export function flannelByNode(nodes: NodeList, pods: PodList): NodeFlannel[] {
  return (nodes.items ?? [])
    .filter((node) => (node.metadata?.labels?.['kubernetes.io/os'] ?? 'linux') === 'linux')
    .map((node) => {
      const name = node.metadata?.name ?? '(unnamed)';
      const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
      const onNode = (pods.items ?? []).filter((pod) => pod.spec?.nodeName === name);
      const pod = onNode.find((p) => p.metadata?.deletionTimestamp === undefined) ?? onNode[0];
      const state: NodeFlannel = { name, ready: ready?.status === 'True' };
      if (!state.ready) state.notReady = ready === undefined ? 'no Ready condition yet' : [ready.reason, ready.message].filter(Boolean).join(': ') || 'not Ready';
      if (pod !== undefined) state.pod = flannelPod(pod);
      return state;
    });
}

export function crashLooping(node: NodeFlannel): boolean {
  return node.pod?.waiting?.reason === 'CrashLoopBackOff' && node.pod.restarts >= CRASH_LOOP_RESTARTS;
}

export function settled(node: NodeFlannel): boolean {
  return node.ready && node.pod?.running === true;
}

/** One line on what a node still waits for. */
export function describeWaiting(node: NodeFlannel): string {
  if (node.pod === undefined) return `${node.name}: no flannel pod yet${node.ready ? '' : ` (node not Ready: ${node.notReady})`}`;
  const pod = node.pod;
  const why = pod.waiting === undefined ? pod.phase : `${pod.phase}, ${pod.waiting.container}: ${pod.waiting.reason}`;
  const flannel = pod.running ? `flannel pod ${pod.name} Running` : `flannel pod ${pod.name} ${why}`;
  return `${node.name}: ${flannel}${node.ready ? '' : `, node not Ready (${node.notReady})`}`;
}
