import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import {
  bundleRoot,
  formatRegistryTarget,
  MissingError,
  resolveInRoot,
  silentLogger,
  UsageError,
  validateClusterNetworks,
  withContext,
  writeFileAtomic,
  type AgDocument,
  type FlannelSection,
  type Logger,
} from '@ag/core';
import { checkInterfaceChoice, flanneldInterfaceArgs, hasInterfaceChoice, INTERFACE_ARG, type InterfaceChoice } from './interface-flags.js';
import { asMap, asScalar, asSeq, ManifestEdit } from './manifest-edit.js';
import { renderNetConf } from './net-conf.js';
import { assertInLayout, pinnedReference, pinTarget } from './pin-images.js';

export const MANIFEST_NAME = 'kube-flannel.yml';
export const DEFAULT_OUT = 'rendered/kube-flannel.yml';

export interface RenderOptions {
  /** The upstream manifest (default: fetch.files' kube-flannel.yml in the bundle). */
  manifest?: string;
  /** Where to write the rendered manifest (default rendered/kube-flannel.yml under the bundle root). */
  out?: string;
  /** net-conf.json Backend.Type (default vxlan). */
  backend?: string;
  /** flanneld --iface values (interface names, or an address: one node only), tried in order. */
  interfaces?: string[];
  /** flanneld --iface-regex values, tried after --iface. */
  interfaceRegexes?: string[];
  /** flanneld --iface-can-reach: the interface that routes to this address, tried last. */
  interfaceCanReach?: string;
  /** Pin images under this registry (`HOST[:PORT][/PREFIX]`, or `internal`: the document's); default: their upstream names. */
  registry?: string;
  /** The bundle root (default: the document's root). */
  dir?: string;
  cwd?: string;
  dryRun?: boolean;
  log?: Logger;
}

export interface RenderResult {
  section: FlannelSection;
  text: string;
  /** The rendered file on this machine. */
  path: string;
  changed: boolean;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
};

function displayPath(root: string, path: string): string {
  const rel = relative(root, path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel.split('\\').join('/');
}

/**
 * Renders the bundle's flannel manifest for this cluster: net-conf.json's
 * Network is the document's cluster.podSubnet (the single source kubeadm
 * also uses, checked as kubeadm checks it), Backend.Type the chosen
 * backend, flanneld gets `--iface`, `--iface-regex` and `--iface-can-reach`
 * when asked (replacing upstream's), and every container image is pinned by
 * the digest the layout holds (under the registry's name for it, when given one). Nothing else changes, byte for byte. A
 * manifest it does not understand (no ConfigMap with net-conf.json, an image
 * the document lacks) is an error, never a guess.
 */
export async function renderFlannel(document: AgDocument, options: RenderOptions = {}): Promise<RenderResult> {
  const log = options.log ?? silentLogger;
  const cwd = options.cwd ?? process.cwd();
  const podSubnet = document.cluster?.podSubnet;
  if (podSubnet === undefined) {
    throw new UsageError('the document has no cluster.podSubnet', { hint: 'start the pipeline with ag-fetch plan, which records the cluster' });
  }
  const choice: InterfaceChoice = { interfaces: options.interfaces ?? [], regexes: options.interfaceRegexes ?? [], canReach: options.interfaceCanReach };
  const interfaceAddresses = checkInterfaceChoice(choice, log);
  validateClusterNetworks({ podSubnet, serviceSubnet: document.cluster?.serviceSubnet, nodeNetworks: interfaceAddresses });
  const root = bundleRoot(document, options.dir, cwd);
  let sourcePath: string;
  if (options.manifest !== undefined) sourcePath = resolve(cwd, options.manifest);
  else {
    const file = document.fetch?.files.find((f) => f.name === MANIFEST_NAME && f.kind === 'manifest');
    if (file === undefined) {
      throw new MissingError(`the document's fetch.files has no ${MANIFEST_NAME} manifest`, { hint: 'pass --manifest FILE, or plan with --cni flannel@VERSION' });
    }
    sourcePath = resolveInRoot(root, file.path);
  }
  const sourceText = await readFile(sourcePath, 'utf8').catch((e: unknown) => {
    throw withContext(`reading the flannel manifest ${sourcePath}`, e);
  });
  const edit = new ManifestEdit(sourceText, sourcePath);
  const backend = options.backend ?? 'vxlan';

  const configMaps = edit.find('ConfigMap').filter((d) => d.hasIn(['data', 'net-conf.json']));
  if (configMaps.length !== 1) {
    throw new UsageError(`${sourcePath} has ${configMaps.length} ConfigMaps with data."net-conf.json"; a flannel manifest has exactly one`, {
      hint: "this is not a flannel manifest ag-flannel understands; pass flannel's release asset kube-flannel.yml",
    });
  }
  const netConfNode = asScalar(configMaps[0]!.getIn(['data', 'net-conf.json'], true));
  if (netConfNode === undefined || typeof netConfNode.value !== 'string') throw new UsageError('net-conf.json is not a string in the ConfigMap');
  const netConf = renderNetConf(netConfNode.value, { podSubnet, backend });
  if (netConf.droppedBackendKeys.length > 0) log.warn(`backend changed to ${backend}: dropped the old backend's ${netConf.droppedBackendKeys.join(', ')}`);
  edit.setScalar(netConfNode, netConf.text);

  const target = pinTarget(document, options.registry);
  const images: FlannelSection['images'] = [];
  for (const workload of edit.documents) {
    const specPath = POD_SPEC_PATHS[String(workload.get('kind'))];
    if (specPath === undefined) continue;
    for (const list of ['initContainers', 'containers']) {
      for (const container of asSeq(workload.getIn([...specPath, list], true))?.items ?? []) {
        const map = asMap(container);
        const image = asScalar(map?.get('image', true));
        if (image === undefined || typeof image.value !== 'string') continue;
        const pinned = pinnedReference(image.value, document.images, target);
        if (!images.some((i) => i.upstream === image.value)) images.push({ upstream: image.value, pinned });
        edit.setScalar(image, pinned);
        const command = asSeq(map?.get('command', true))?.items.map((i) => asScalar(i)?.value);
        if (hasInterfaceChoice(choice) && command?.some((c) => typeof c === 'string' && c.endsWith('flanneld'))) {
          const args = asSeq(map!.get('args', true));
          if (args === undefined) throw new UsageError('the flanneld container has no args list to add --iface to');
          const existing = args.items.map((i) => String(asScalar(i)?.value ?? ''));
          for (let i = existing.length - 1; i >= 0; i--) if (INTERFACE_ARG.test(existing[i]!)) edit.removeFromSeq(args, i);
          for (const arg of flanneldInterfaceArgs(choice)) edit.appendToSeq(args, arg);
        }
      }
    }
  }
  if (images.length === 0) throw new UsageError(`${sourcePath} has no container images: not a flannel manifest ag-flannel understands`);

  const layout = document.images?.layout;
  const layoutDir = layout === undefined ? undefined : resolveInRoot(root, layout);
  const layoutThere = layoutDir !== undefined && (await access(join(layoutDir, 'index.json')).then(() => true, () => false));
  if (layoutThere) for (const image of images) await assertInLayout(layoutDir!, image.pinned);
  else log.warn(`the image layout ${layoutDir ?? '(none named)'} is not on this machine: digests are taken from the document unchecked`);

  const text = edit.toString();
  const path = options.out !== undefined ? resolve(cwd, options.out) : join(root, DEFAULT_OUT);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  const changed = existing !== text;
  if (changed && !options.dryRun) {
    await writeFileAtomic(path, text).catch((e: unknown) => {
      throw withContext(`writing the rendered manifest ${path}`, e);
    });
  }
  const section: FlannelSection = {
    manifest: displayPath(root, path),
    sha256: sha256(text),
    source: displayPath(root, sourcePath),
    sourceSha256: sha256(sourceText),
    podSubnet,
    backend,
    images,
  };
  if (target !== undefined) section.registry = formatRegistryTarget(target);
  if (choice.interfaces.length > 0) section.interfaces = choice.interfaces;
  if (choice.regexes.length > 0) section.interfaceRegexes = choice.regexes;
  if (choice.canReach !== undefined) section.interfaceCanReach = choice.canReach;
  return { section, text, path, changed };
}
