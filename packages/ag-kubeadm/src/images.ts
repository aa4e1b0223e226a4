import { formatRegistryTarget, MissingError, registryTargetOf, UsageError, type AgDocument, type KubeadmImage } from '@ag/core';

/** kubeadm's default repository (cmd/kubeadm/app/constants: DefaultImageRepository). */
export const UPSTREAM_REPOSITORY = 'registry.k8s.io';

export type ImageSource = 'upstream' | 'internal' | 'custom';

export interface ImageRepositoryChoice {
  source: ImageSource;
  /** ClusterConfiguration.imageRepository */
  repository: string;
}

/**
 * Where kubeadm is told to find its images.
 *
 * - `upstream` (default): `registry.k8s.io`. Nodes keep upstream names;
 *   containerd's hosts.toml mirrors (ag-nodeprep) send every pull to the
 *   internal registry, so nothing leaves the site.
 * - `internal`: `<registry.endpoint>[/<registry.prefix>]/registry.k8s.io`,
 *   the path ag-images pushes to, for nodes without those mirrors (the prefix
 *   of a registry the site runs, such as a Harbor project, included).
 * - anything else: taken as a repository the operator runs.
 */
export function chooseImageRepository(document: AgDocument, option: string | undefined): ImageRepositoryChoice {
  const wanted = option?.trim() ?? 'upstream';
  if (wanted === 'upstream' || wanted === UPSTREAM_REPOSITORY) return { source: 'upstream', repository: UPSTREAM_REPOSITORY };
  if (wanted === 'internal') {
    const target = registryTargetOf(document.registry);
    if (target === undefined) {
      throw new UsageError('--image-repository internal needs the internal registry, but the document has no registry section', {
        hint: "run ag-registry up first (it records registry.endpoint), or ag-registry trust --registry HOST[:PORT][/PREFIX] for the site's registry, or use the default upstream names served through containerd mirrors",
      });
    }
    return { source: 'internal', repository: `${formatRegistryTarget(target)}/${UPSTREAM_REPOSITORY}` };
  }
  if (wanted === '' || wanted.includes('://') || wanted.endsWith('/')) {
    throw new UsageError(`--image-repository ${JSON.stringify(wanted)} is not upstream, internal or a repository such as registry.example:5000/k8s`);
  }
  return { source: 'custom', repository: wanted };
}

/** The versions kubeadm pins its non-Kubernetes images to, as carried in the bundle. */
export interface ComponentTags {
  pause: string;
  etcd: string;
  coredns: string;
}

/**
 * Reads the pause, etcd and coredns versions from `fetch.components` (ag-fetch
 * records what it carried). A missing one is an error naming it: guessing
 * would ask the runtime for an image that is not on the far side.
 */
export function componentTags(document: AgDocument): ComponentTags {
  const components = document.fetch?.components;
  const read = (name: keyof ComponentTags): string => {
    const value = components?.[name];
    if (value === undefined || value.trim() === '') {
      throw new MissingError(`the document's fetch.components has no ${name} version, so the ${name} image kubeadm asks for is unknown`, {
        hint: 'run ag-fetch plan for this Kubernetes version (it records pause, etcd and coredns), or add it with jq',
      });
    }
    return value.trim();
  };
  // kubeadm tags coredns v1.10.1 but pause 3.9 and etcd 3.5.7-0 (cmd/kubeadm/app/constants).
  const bare = (v: string): string => v.replace(/^v/, '');
  const coredns = read('coredns');
  return { pause: bare(read('pause')), etcd: bare(read('etcd')), coredns: coredns.startsWith('v') ? coredns : `v${coredns}` };
}

/** dns.imageRepository: kubeadm asks `<repo>/coredns:<tag>`, so the upstream `coredns/` path level must be in the repository. */
export function dnsImageRepository(repository: string): string {
  return `${repository}/coredns`;
}

/**
 * The CRI sandbox (pause) image for this repository: exactly what kubeadm
 * compares the runtime's sandbox image with (images.GetPauseImage:
 * `<ClusterConfiguration.imageRepository>/pause:<version>`), and so what
 * ag-nodeprep must write into containerd's config.
 */
export function sandboxImageFor(repository: string, tags: Pick<ComponentTags, 'pause'>): string {
  return `${repository}/pause:${tags.pause}`;
}

/**
 * The sandbox image for a document: kubeadm.sandboxImage when ag-kubeadm has
 * written its configuration, else the rule applied to the default (upstream)
 * repository or the one given.
 */
export function sandboxImage(document: AgDocument, imageRepository?: string): string {
  if (imageRepository === undefined && document.kubeadm?.sandboxImage !== undefined) return document.kubeadm.sandboxImage;
  return sandboxImageFor(chooseImageRepository(document, imageRepository).repository, componentTags(document));
}

/**
 * Every image `kubeadm init` asks for with this configuration, in kubeadm's
 * order (`kubeadm config images list`): the four Kubernetes images tagged with
 * the version, then pause, etcd and coredns (cmd/kubeadm/app/images/images.go).
 */
export function kubeadmImages(kubernetesVersion: string, repository: string, tags: ComponentTags): KubeadmImage[] {
  const tag = kubernetesVersion.replace(/\+/g, '_');
  return [
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((component) => ({
      component,
      ref: `${repository}/${component}:${tag}`,
    })),
    { component: 'pause', ref: sandboxImageFor(repository, tags) },
    { component: 'etcd', ref: `${repository}/etcd:${tags.etcd}` },
    { component: 'coredns', ref: `${dnsImageRepository(repository)}/coredns:${tags.coredns}` },
  ];
}
