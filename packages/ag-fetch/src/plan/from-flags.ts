import { UsageError, type AgDocument, type CniOptions, type SiteFileRecord } from '@ag/core';
import { osPackageFlags } from '../os-packages/cli-support.js';
import { fromSite, type LoadedSite } from '../site.js';
import { parseKubernetesVersion, specText } from './kubernetes-version.js';
import { CLUSTER_DEFAULTS, CONTAINERD_SOURCES, parseChart, parseCni, parseComponents, parseFile, parseImages, type Architecture, type ContainerdSource, type PlanRequest } from './request.js';

/** What `ag-fetch plan` plans: the request, and what the site file adds that no flag says. */
export interface PlanInputs {
  request: PlanRequest;
  /** Where each network came from, for the overlap check's messages. */
  networkFields: { podSubnet: string; serviceSubnet: string };
  cniOptions?: CniOptions | undefined;
  registry?: { endpoint: string } | undefined;
}

/** The first of each key: the same chart or file named in the site file and by a flag is planned once. */
function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(key(item)) && seen.add(key(item)) !== undefined);
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)]);
const text = (value: unknown): string | undefined => (value === undefined ? undefined : String(value));

/**
 * The plan's request from its flags and, with `--site`, the site file:
 * a flag given replaces the site file's value (--kubernetes-version, --arch,
 * --os, --cni, --containerd, the networks); repeatable flags add to its lists (--image,
 * --chart, --file, --package, --no-package), and a --component replaces the
 * site file's version of that component only. Every value is checked here,
 * before any network: a site file's value that is refused is named by file,
 * line and JSON path.
 */
export function planInputs(args: Record<string, unknown>, loaded: LoadedSite | undefined): PlanInputs {
  const spec = loaded?.site.spec;
  const site = <T>(path: (string | number)[], parse: () => T): T => fromSite(loaded!, path, parse);

  const versionFlag = text(args['kubernetes-version']);
  if (versionFlag === undefined && spec === undefined) {
    throw new UsageError('--kubernetes-version is required (or a site file naming spec.kubernetes.version: --site FILE)', { hint: 'e.g. ag-fetch plan --kubernetes-version v1.27.3 --os debian-12' });
  }
  const kubernetesVersion =
    versionFlag !== undefined
      ? specText(parseKubernetesVersion(versionFlag))
      : site(['spec', 'kubernetes', 'version'], () => specText(parseKubernetesVersion(spec!.kubernetes.version)));

  const os = text(args['os']) ?? spec?.os.name;
  if (os === undefined) throw new UsageError('--os is required (or a site file naming spec.os.name: --site FILE)', { hint: 'e.g. --os debian-12' });
  if (!/^[a-z]+-[0-9.]+$/.test(os)) throw new UsageError(`--os ${JSON.stringify(os)}: expected ID-VERSION, e.g. fedora-37, debian-12, ubuntu-22.04`);

  const cniFlag = text(args['cni']);
  const cni =
    cniFlag !== undefined
      ? parseCni(cniFlag)
      : spec?.cni !== undefined
        ? site(['spec', 'cni'], () => parseCni(`${spec.cni!.name}${spec.cni!.version !== undefined ? `@${spec.cni!.version}` : ''}`))
        : parseCni('flannel');

  const archFlags = strings(args['arch']);
  const architectures = [...new Set(archFlags.length > 0 ? archFlags : (spec?.architectures ?? ['amd64']))] as Architecture[];

  const fromFile = {
    components: spec?.components === undefined ? {} : site(['spec', 'components'], () => parseComponents(Object.entries(spec.components!).map(([name, version]) => `${name}=${version}`))),
    images: (spec?.images ?? []).map((ref, i) => site(['spec', 'images', i], () => parseImages([ref])[0]!)),
    charts: (spec?.charts ?? []).map((c, i) => site(['spec', 'charts', i], () => parseChart(`${c.repo.replace(/\/+$/, '')}/${c.name}@${c.version}`))),
    files: (spec?.files ?? []).map((f, i) => site(['spec', 'files', i], () => parseFile(`${f.url}${f.sha256 !== undefined ? `#sha256=${f.sha256}` : ''}`))),
  };
  const flags = osPackageFlags(args);
  const networks = spec?.networks ?? {};
  const network = (flag: string, key: 'podSubnet' | 'serviceSubnet' | 'dnsDomain'): { value: string; field: string } => {
    const given = text(args[flag]);
    if (given !== undefined) return { value: given, field: `--${flag} (cluster.${key})` };
    if (networks[key] !== undefined) return { value: networks[key]!, field: `${loaded!.where(['spec', 'networks', key])}: $.spec.networks.${key}` };
    // A default is changed with its flag: name the flag.
    return { value: CLUSTER_DEFAULTS[key], field: `--${flag} (cluster.${key})` };
  };
  const containerd = text(args['containerd']) ?? spec?.os.containerd ?? 'os';
  if (!(CONTAINERD_SOURCES as readonly string[]).includes(containerd)) {
    throw new UsageError(`--containerd ${JSON.stringify(containerd)}: expected ${CONTAINERD_SOURCES.join(' or ')}`);
  }
  const podSubnet = network('pod-subnet', 'podSubnet');
  const serviceSubnet = network('service-subnet', 'serviceSubnet');
  return {
    request: {
      kubernetesVersion,
      architectures,
      os,
      cni,
      components: { ...fromFile.components, ...parseComponents(strings(args['component'])) },
      images: [...new Set([...fromFile.images, ...parseImages(strings(args['image']))])],
      charts: uniqueBy([...fromFile.charts, ...strings(args['chart']).map(parseChart)], (c) => `${c.repo}/${c.name}@${c.version}`),
      files: uniqueBy([...fromFile.files, ...strings(args['file']).map(parseFile)], (f) => f.url),
      podSubnet: podSubnet.value,
      serviceSubnet: serviceSubnet.value,
      dnsDomain: network('dns-domain', 'dnsDomain').value,
      osPackages: { add: [...(spec?.os.packages?.add ?? []), ...flags.add], remove: [...(spec?.os.packages?.remove ?? []), ...flags.remove] },
      containerd: containerd as ContainerdSource,
    },
    networkFields: { podSubnet: podSubnet.field, serviceSubnet: serviceSubnet.field },
    cniOptions: spec?.cni?.options,
    registry: spec?.registry,
  };
}

/** The plan's document with what the site file adds: its record in fetch.site, the CNI's options and the internal registry in cluster. */
export function withSite(document: AgDocument, inputs: PlanInputs, record: SiteFileRecord | undefined): AgDocument {
  if (record === undefined) return document;
  const cluster = document.cluster!;
  return {
    ...document,
    cluster: {
      ...cluster,
      cni: { ...cluster.cni, ...(inputs.cniOptions !== undefined ? { options: inputs.cniOptions } : {}) },
      ...(inputs.registry !== undefined ? { registry: inputs.registry } : {}),
    },
    fetch: { ...document.fetch!, site: record },
  };
}
