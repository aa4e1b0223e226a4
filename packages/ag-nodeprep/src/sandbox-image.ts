import type { AgDocument } from '@ag/core';

export interface SandboxChoice {
  image?: string;
  source: string;
}

/**
 * The CRI sandbox (pause) image: --sandbox-image, else what ag-kubeadm
 * recorded (`kubeadm.sandboxImage`, when it writes one), else the upstream
 * name with the pause version the plan carries
 * (`registry.k8s.io/pause:<fetch.components.pause>`), else the pause image in
 * the plan's image list, else kubeadm's default for the cluster version
 * (3.9 until 1.30, 3.10 from 1.31). Nodes keep upstream names: containerd's
 * hosts.toml sends registry.k8s.io to the internal registry.
 */
export function chooseSandboxImage(document: AgDocument | undefined, flag: string | undefined): SandboxChoice {
  if (flag !== undefined) return { image: flag, source: '--sandbox-image' };
  const fromKubeadm = (document?.kubeadm as { sandboxImage?: unknown } | undefined)?.sandboxImage;
  if (typeof fromKubeadm === 'string' && fromKubeadm !== '') return { image: fromKubeadm, source: 'kubeadm.sandboxImage' };
  const pause = document?.fetch?.components?.['pause'];
  if (pause !== undefined) return { image: `registry.k8s.io/pause:${pause}`, source: 'fetch.components.pause' };
  const planned = document?.fetch?.images?.find((i) => i.component === 'pause' || /\/pause:[^/]+$/.test(i.ref));
  if (planned !== undefined) return { image: planned.ref, source: 'fetch.images' };
  const minor = /^v1\.(\d+)\./.exec(document?.cluster?.kubernetesVersion ?? '')?.[1];
  if (minor !== undefined) return { image: `registry.k8s.io/pause:${Number(minor) >= 31 ? '3.10' : '3.9'}`, source: `kubeadm's default for ${document!.cluster!.kubernetesVersion}` };
  return { source: "none known: containerd's built-in default is kept" };
}

/** The registry host of a reference, as containerd names its certs.d directory (`docker.io` for bare names). */
export function registryHost(ref: string): string {
  const first = ref.split('/')[0]!;
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}
