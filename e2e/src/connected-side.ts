import type { AgDocument, SiteFile } from '@ag/core';
import { siteFile } from './trip/steps.js';
import { KUBERNETES_VERSION } from './trip/world.js';

/** The cluster the run carries: the classic v1.27.3 procedure with flannel and podinfo, for this machine's OS (the far node is this Debian 12 host). */
export const CLUSTER = {
  kubernetesVersion: 'v1.27.3',
  arch: 'amd64',
  os: 'debian-12',
  cni: 'flannel@v0.22.0',
  chart: 'https://stefanprodan.github.io/podinfo/podinfo@6.4.0',
  appImage: 'ghcr.io/stefanprodan/podinfo:6.4.0',
} as const;

/** The site file the trip writes, for this machine's OS. */
export function demoSite(): SiteFile {
  return siteFile(KUBERNETES_VERSION, CLUSTER.os, CLUSTER.arch);
}

export interface ConnectedResult {
  /** The bundle file, on the connected side. */
  bundleFile: string;
  bundleBytes: number;
  /** The signing key's public half: the far side's trust anchor, carried once beforehand. */
  publicKey: string;
  /** The document ag-bundle pack wrote. */
  document: AgDocument;
}

