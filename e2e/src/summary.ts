import { formatBytes } from '@ag/core';
import type { ScenarioResult } from './scenario.js';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** The end-of-run summary: what was planned, what crossed, what ran, how long each stage took, and the leak count. */
export function formatSummary(result: ScenarioResult): string[] {
  const document = result.connected.document;
  const fetch = document.fetch!;
  const cluster = document.cluster!;
  const pushed = result.far.pushed.images!;
  const lines: string[] = [];
  lines.push('', '== summary ==', '');
  lines.push(`planned     Kubernetes ${cluster.kubernetesVersion} (${cluster.architectures.join(', ')}, ${cluster.os}), ${cluster.cni.name} ${cluster.cni.version}: ${fetch.files.length} files, ${fetch.images.length} images (control-plane list from ${fetch.imageList.source})`);
  lines.push(`carried     ${result.carried.join(', ')}: bundle ${formatBytes(result.connected.bundleBytes)} (${result.connected.bundleBytes} bytes), signed`);
  const delta = result.next.connected;
  const reused = delta.document.bundle?.delta?.reused.length ?? 0;
  lines.push(
    `next trip   ${delta.document.cluster!.kubernetesVersion} as a delta: ${formatBytes(delta.bundleBytes)} (${delta.bundleBytes} bytes, ${Math.round((100 * delta.bundleBytes) / result.connected.bundleBytes)}% of the first bundle); ${reused} files the far side had stayed behind`,
  );
  lines.push(
    result.far.imagesThere !== undefined
      ? `pushed      ${pushed.images.length} images to the site's registry (${pushed.push?.registry ?? '?'}, no ag-registry up), ${result.far.imagesThere} of them there by ag-registry status`
      : `pushed      ${pushed.images.length} images to the internal registry (${pushed.push?.registry ?? '?'}), ${result.far.repositories ?? '?'} repositories there`,
  );
  const packages = document.packages;
  if (result.far.containerdPackage !== undefined && packages?.closure !== undefined) {
    const bytes = packages.closure.reduce((sum, p) => sum + p.size, 0);
    lines.push(`OS packages ${packages.closure.length} from Debian's archive (${formatBytes(bytes)}), installed offline into the far side's Debian root: containerd ${result.far.containerdPackage}`);
  }
  lines.push(`ran         ghcr.io/stefanprodan/podinfo:6.4.0 (the stand-in) in containerd; it printed "${result.far.podinfoOutput.trim()}"`);
  lines.push(`resolved    ${result.far.clusterImages.length} images kubeadm's config and flannel's manifest name, each pulled by containerd by the name they give`);
  const { leak, control } = result.gap;
  lines.push(
    leak.packets === 0
      ? `no packet left the far side: TX 0 into the black hole (the control probe afterwards: ${control.result}, TX ${control.leak.packets})`
      : `LEAK: the far side sent ${leak.packets} packet(s), ${leak.bytes} bytes, into the black hole`,
  );
  lines.push('');
  const width = Math.max(...result.timings.map((t) => t.name.length));
  lines.push(`${'side'.padEnd(10)} ${'stage'.padEnd(width)} ${'time'.padStart(8)}`);
  for (const timing of result.timings) lines.push(`${timing.side.padEnd(10)} ${timing.name.padEnd(width)} ${seconds(timing.ms).padStart(8)}`);
  lines.push(`${''.padEnd(10)} ${'total (wall clock)'.padEnd(width)} ${seconds(result.elapsedMs).padStart(8)}`);
  return lines;
}
