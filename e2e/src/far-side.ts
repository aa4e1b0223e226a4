import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { hostArchitecture, type AgDocument } from '@ag/core';
import { FAR_REGISTRY_NAME } from './gap.js';
import type { Command, CommandResult, Shell } from './shell.js';

/** Where the internal registry listens on the far side, and the name clients use. */
export const FAR_REGISTRY_LISTEN = '127.0.0.1:5000';
export const FAR_REGISTRY_ENDPOINT = `${FAR_REGISTRY_NAME}:5000`;
/** The far side is this machine: the executable of its architecture runs there. */
export const FAR_ARCH = hostArchitecture();

export interface FarResult {
  /** What `command -v node nodejs` found on the far side (nothing, when the mount namespace hides them). */
  nodeFound: string;
  /** `ag-bundle --version` on the far side: the Node.js built into the executable. */
  toolVersion: string;
  /** With OS packages: what dpkg-query says of containerd in the root they went into (`installed VERSION`). */
  containerdPackage?: string;
  unpacked: AgDocument;
  pushed: AgDocument;
  kubeadm: AgDocument;
  flannel: AgDocument;
  /** What `helm upgrade --install podinfo` said (the helm double: the chart it read, the image containerd pulled and ran). */
  helmOutput: string;
  /** What the podinfo stand-in printed when containerd ran it. */
  podinfoOutput: string;
  /** Every image kubeadm's configuration and flannel's manifest name, each pulled by containerd through the mirrors. */
  clusterImages: string[];
  /** The internal registry's repositories (ag-registry status). */
  repositories: number | undefined;
  /** With the site's registry: the bundle's images ag-registry status found there. */
  imagesThere?: number;
  /** The containerd config the node got from ag-nodeprep (as written under the node's root). */
  containerdConfig: string;
  /** ag-kubeadm preflight, init and join against the kit's kubeadm double. */
  kubeadmRun: FarKubeadm;
}

/** The far side's kubeadm results: the documents after preflight, init (control plane) and each join. */
export interface FarKubeadm {
  preflight: AgDocument;
  initialised: AgDocument;
  /** The first worker's. */
  joined: AgDocument;
  /** HA: the other control planes' (joined with --control-plane and the certificate key). */
  controlPlanesJoined: AgDocument[];
}

/** Things to undo at the end, last first. */
export type Cleanups = Array<() => Promise<unknown>>;

/** Image references in a Kubernetes manifest (every `image:` of every document). */
export function manifestImages(text: string): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'image' && typeof value === 'string') found.add(value);
        else walk(value);
      }
    }
  };
  for (const document of parseAllDocuments(text)) walk(document.toJS());
  return [...found];
}

/** The far node's containerd: its directory (root, state, socket) under the far side's. */
export const CONTAINERD_DIR = 'ctrd';
export const CERTS_DIR = 'root/etc/containerd/certs.d';

export function ctr(shell: Shell, args: string[]): Command {
  return { argv: ['ctr', '--address', join(shell.cwd, CONTAINERD_DIR, 'containerd.sock'), ...args], display: ['ctr', ...args].join(' ') };
}

/** containerd pulls an image by its upstream name, through the certs.d mirrors ag-registry trust wrote (ctr pulls client-side: run in the far namespace). */
export function pullByUpstreamName(shell: Shell, ref: string, containerdNamespace = 'k8s.io'): Promise<CommandResult> {
  return shell.run(ctr(shell, ['-n', containerdNamespace, 'images', 'pull', '--hosts-dir', CERTS_DIR, '--platform', `linux/${FAR_ARCH}`, ref]));
}


