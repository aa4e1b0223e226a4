import type { FileArtifact } from '@ag/core';
import { checksummedFile, type PlanContext, type Planner } from '../context.js';
import type { Architecture } from '../request.js';

const DL_K8S = 'https://dl.k8s.io/release';

/** kubeadm, kubelet or kubectl for one architecture, with dl.k8s.io's `.sha256`. */
export function kubernetesBinary(context: PlanContext, name: 'kubeadm' | 'kubelet' | 'kubectl', arch: Architecture): Promise<FileArtifact> {
  const version = context.request.kubernetesVersion;
  const url = `${DL_K8S}/${version}/bin/linux/${arch}/${name}`;
  return checksummedFile(context, {
    name,
    kind: 'binary',
    arch,
    version,
    upstreamUrl: url,
    checksumUrl: `${url}.sha256`,
    path: `files/linux/${arch}/${name}`,
    install: { path: `/usr/local/bin/${name}`, mode: '0755' },
  });
}

/** kubeadm, kubelet and kubectl of the exact release, per architecture. */
export const kubernetesBinariesPlanner: Planner = {
  name: 'kubernetes-binaries',
  async plan(context) {
    const files = await Promise.all(
      context.request.architectures.flatMap((arch) => (['kubeadm', 'kubelet', 'kubectl'] as const).map((name) => kubernetesBinary(context, name, arch))),
    );
    return { files };
  },
};
