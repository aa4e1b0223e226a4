import { UsageError } from '@ag/core';

export type KubeadmApiVersion = 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';

export interface KubernetesVersion {
  major: number;
  minor: number;
  patch: number;
  /** As the document writes it: `v1.27.3`. */
  text: string;
}

/** Parses `v1.27.3` (the document's cluster.kubernetesVersion). */
export function parseKubernetesVersion(text: string): KubernetesVersion {
  const match = /^v(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!match) throw new UsageError(`kubernetes version ${JSON.stringify(text)} is not an exact release such as v1.27.3`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), text };
}

/**
 * The kubeadm configuration API a version reads: v1beta3 from 1.22 (v1beta2
 * was removed in 1.27), v1beta4 from 1.31 (1.31–1.35 still read v1beta3, but
 * deprecated). Sources: kubernetes/website kubeadm-config.v1beta3/v1beta4
 * pages and kubernetes/kubernetes cmd/kubeadm/app/apis/kubeadm/{v1beta3,v1beta4}/doc.go.
 */
export function kubeadmApiVersion(version: KubernetesVersion): KubeadmApiVersion {
  if (version.major !== 1 || version.minor < 22) {
    throw new UsageError(`kubernetes ${version.text} is not supported: ag-kubeadm writes configurations for 1.22 and later`);
  }
  return version.minor >= 31 ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3';
}
