import { parseReference, resolveInRoot, UsageError, type FetchSection, type PlannedImage } from '@ag/core';
import type { PlanContext, Planner } from '../context.js';
import { hostArchitecture, obtainKubeadm, runKubeadmImagesList } from '../kubeadm-images.js';
import type { VersionSource } from '../version-source.js';
import { DATA_FILES, TABLES_CHECKED, tableImages } from '../versions.js';
import { kubernetesBinary } from './kubernetes-binaries.js';

const KUBE_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const;
const OVERRIDABLE = ['pause', 'etcd', 'coredns'] as const;

function componentOf(ref: string): string {
  return parseReference(ref).repository.split('/').pop() ?? ref;
}

/** The list from the table: the four components at the release's tag, then pause, etcd, coredns. */
function fromTable(context: PlanContext, why: string): { refs: string[]; imageList: FetchSection['imageList'] } {
  const version = context.request.kubernetesVersion;
  const row = tableImages(version);
  const overrides = context.request.components;
  const pause = overrides['pause'] ?? row?.pause;
  const etcd = overrides['etcd'] ?? row?.etcd;
  const coredns = overrides['coredns'] ?? row?.coredns;
  if (pause === undefined || etcd === undefined || coredns === undefined) {
    throw new UsageError(`planning the control-plane images of ${version}: ${why}, and ${DATA_FILES.controlPlane} has no row for ${version}`, {
      hint: `run the plan where kubeadm ${version} can run (linux, with network), pass --kubeadm PATH, or give --component pause=V --component etcd=V --component coredns=V`,
    });
  }
  if (row?.inferred === true && (overrides['pause'] === undefined || overrides['etcd'] === undefined || overrides['coredns'] === undefined)) {
    context.log.warn(
      `the control-plane images of ${version} come from a table row that was not checked against kubeadm ${version}; ` +
        `plan connected so that kubeadm ${version} lists them, or pin --component pause=V --component etcd=V --component coredns=V`,
    );
  }
  return {
    refs: [
      ...KUBE_COMPONENTS.map((c) => `registry.k8s.io/${c}:${version}`),
      `registry.k8s.io/pause:${pause}`,
      `registry.k8s.io/etcd:${etcd}`,
      `registry.k8s.io/coredns/coredns:${coredns}`,
    ],
    imageList: { source: 'table', detail: `${row?.detail ?? '--component overrides'}; kubeadm was not used: ${why}` },
  };
}

/**
 * The control-plane images for the exact release: asked of that release's own
 * kubeadm (`config images list -o json`) when one can run here, else taken
 * from the table kept in data/ (and the document says which, and why).
 * `--component pause|etcd|coredns=TAG` overrides a tag either way.
 */
export const controlPlaneImagesPlanner: Planner = {
  name: 'control-plane-images',
  async plan(context) {
    const version = context.request.kubernetesVersion;
    let refs: string[] | undefined;
    let imageList: FetchSection['imageList'] | undefined;
    let why = '--image-list table';
    if (context.imageList !== 'table') {
      const arch = hostArchitecture();
      const artifact = arch === undefined ? undefined : await kubernetesBinary(context, 'kubeadm', arch);
      const planned = arch !== undefined && context.request.architectures.includes(arch);
      const source = await obtainKubeadm({
        version,
        explicit: context.kubeadmPath,
        artifact,
        bundlePath: planned && artifact !== undefined ? resolveInRoot(context.root, artifact.path) : undefined,
        online: context.online,
        dispatcher: context.dispatcher,
        log: context.log,
        progress: context.progress,
      });
      if ('reason' in source) {
        why = source.reason;
      } else {
        try {
          refs = await runKubeadmImagesList(source.path, version);
          imageList = { source: 'kubeadm', detail: `kubeadm ${version} config images list (${source.detail})` };
        } catch (error) {
          why = (error as Error).message;
        } finally {
          await source.release();
        }
      }
      if (refs === undefined && context.imageList === 'kubeadm') {
        throw new UsageError(`planning the control-plane images of ${version}: --image-list kubeadm, but ${why}`, {
          hint: 'use --image-list auto to fall back to the table, or pass --kubeadm PATH',
        });
      }
      if (refs === undefined) context.log.warn(`control-plane images from the table, not kubeadm: ${why}`);
    }
    if (refs === undefined || imageList === undefined) ({ refs, imageList } = fromTable(context, why));
    const components: Record<string, string> = {};
    const versionSources: Record<string, VersionSource> = {};
    const listed: VersionSource =
      imageList.source === 'kubeadm' ? { from: 'kubeadm', detail: imageList.detail } : { from: 'table', detail: imageList.detail, checked: TABLES_CHECKED };
    const images: PlannedImage[] = refs.map((raw) => {
      const parsed = parseReference(raw);
      const component = componentOf(raw);
      const override = (OVERRIDABLE as readonly string[]).includes(component) ? context.request.components[component] : undefined;
      const tag = override ?? parsed.tag;
      if (tag !== undefined && !component.startsWith('kube-')) {
        components[component] = tag;
        versionSources[component] = override !== undefined ? { from: 'flag', detail: `--component ${component}=${override}` } : listed;
      }
      return {
        ref: `${parsed.registry}/${parsed.repository}${tag === undefined ? '' : `:${tag}`}`,
        role: 'control-plane',
        component,
        origin: override !== undefined ? `--component ${component}` : imageList!.source,
      };
    });
    return { images, imageList, components, versionSources };
  },
};
