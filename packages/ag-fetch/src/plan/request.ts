import { normalizeReference, SHA256_HEX, UsageError, type ClusterSpec } from '@ag/core';

export type Architecture = ClusterSpec['architectures'][number];
export const ARCHITECTURES: readonly Architecture[] = ['amd64', 'arm64', 'arm', 'ppc64le', 's390x'];

/** A Helm chart by repository URL, name and version (`--chart REPO_URL/NAME@VERSION`). */
export interface ChartRequest {
  repo: string;
  name: string;
  version: string;
}

/** An extra file (`--file URL[#sha256=HEX]`). */
export interface FileRequest {
  url: string;
  sha256?: string;
}

/** Everything `ag-fetch plan` is asked for, flags parsed and checked. */
export interface PlanRequest {
  /**
   * The exact release (`v1.27.3`). The CLI may hand `planFetch` a minor
   * (`v1.35`) or `stable` instead: `planFetch` resolves it first, and every
   * planner sees the exact release.
   */
  kubernetesVersion: string;
  architectures: Architecture[];
  os: string;
  cni: { name: string; version?: string | undefined };
  /** `--component NAME=VERSION` overrides (crictl, cni-plugins, helm, k9s, etcd, pause, coredns…). */
  components: Record<string, string>;
  images: string[];
  charts: ChartRequest[];
  files: FileRequest[];
  podSubnet: string;
  serviceSubnet: string;
  dnsDomain: string;
  /** `--package NAME` / `--no-package NAME`: the OS packages beyond or instead of the default set (os-packages/). */
  osPackages?: { add: string[]; remove: string[] };
  /**
   * `--containerd`: `os` takes containerd and runc from the OS packages (or
   * leaves them to the operator without any); `upstream` carries containerd,
   * runc and containerd.service from their GitHub releases instead
   * (planners/container-runtime.ts), for a Kubernetes release newer than the
   * OS's containerd supports. Absent means `os`.
   */
  containerd?: ContainerdSource;
}

export const CONTAINERD_SOURCES = ['os', 'upstream'] as const;
export type ContainerdSource = (typeof CONTAINERD_SOURCES)[number];

export const CLUSTER_DEFAULTS = {
  // flannel's manifest assumes 10.244.0.0/16; kubeadm's service CIDR and DNS domain defaults.
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
} as const;

/** `flannel@v0.22.0` or `flannel`. */
export function parseCni(input: string): { name: string; version?: string } {
  const [name = '', version] = input.split('@');
  if (name === '' || (version !== undefined && version === '')) throw new UsageError(`--cni ${JSON.stringify(input)}: expected NAME[@VERSION], e.g. flannel@v0.22.0`);
  if (name !== 'flannel') throw new UsageError(`--cni ${name}: ag plans flannel only (for now)`, { hint: 'use --cni flannel@VERSION, and add other CNI images with --image' });
  return version === undefined ? { name } : { name, version: version.startsWith('v') ? version : `v${version}` };
}

/** `https://stefanprodan.github.io/podinfo/podinfo@6.4.0` -> repo, name, version. */
export function parseChart(input: string): ChartRequest {
  const at = input.lastIndexOf('@');
  const slash = input.lastIndexOf('/');
  if (at < 0 || slash < 0 || at < slash) {
    throw new UsageError(`--chart ${JSON.stringify(input)}: expected REPO_URL/NAME@VERSION`, {
      hint: 'e.g. --chart https://stefanprodan.github.io/podinfo/podinfo@6.4.0',
    });
  }
  const repo = input.slice(0, slash);
  if (repo.startsWith('oci://')) throw new UsageError(`--chart ${input}: OCI chart repositories are not supported yet`, { hint: 'use the chart repository URL (the one with index.yaml)' });
  if (!/^https?:\/\/[^/]/.test(repo)) throw new UsageError(`--chart ${input}: the repository must be an http(s) URL`);
  const name = input.slice(slash + 1, at);
  const version = input.slice(at + 1);
  if (name === '' || version === '') throw new UsageError(`--chart ${JSON.stringify(input)}: expected REPO_URL/NAME@VERSION`);
  return { repo, name, version };
}

/** `URL[#sha256=HEX]` */
export function parseFile(input: string): FileRequest {
  const hash = input.indexOf('#');
  const url = hash < 0 ? input : input.slice(0, hash);
  const fragment = hash < 0 ? '' : input.slice(hash + 1);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--file ${JSON.stringify(input)}: not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`--file ${input}: only http(s) URLs`);
  if (parsed.pathname.endsWith('/')) throw new UsageError(`--file ${input}: the URL must name a file`);
  if (fragment === '') return { url };
  const match = /^sha256=([A-Fa-f0-9]{64})$/.exec(fragment);
  if (match === null || !SHA256_HEX.test(match[1]!.toLowerCase())) {
    throw new UsageError(`--file ${JSON.stringify(input)}: the fragment must be #sha256=<64 hex digits>`);
  }
  return { url, sha256: match[1]!.toLowerCase() };
}

/** `NAME=VERSION` pairs. */
export function parseComponents(flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0 || eq === flag.length - 1) throw new UsageError(`--component ${JSON.stringify(flag)}: expected NAME=VERSION, e.g. crictl=v1.27.1`);
    out[flag.slice(0, eq)] = flag.slice(eq + 1);
  }
  return out;
}

/** Checks `--image` references (they are kept as written, fully qualified). */
export function parseImages(flags: readonly string[]): string[] {
  return flags.map((ref) => {
    // parseReference fills in "latest"; ag wants the operator to say which version.
    if (!ref.includes('@') && !/:[^/]+$/.test(ref)) {
      throw new UsageError(`--image ${ref}: name a tag or a digest`, { hint: 'ag pins images; an implicit "latest" would change between runs' });
    }
    return normalizeReference(ref);
  });
}
