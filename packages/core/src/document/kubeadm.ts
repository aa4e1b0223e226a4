import { Type, type Static } from '@sinclair/typebox';
import { AbsolutePath, Timestamp } from './common.js';

/** One image kubeadm will ask the container runtime for. */
export const KubeadmImage = Type.Object({
  component: Type.String({ description: 'kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, pause, etcd or coredns' }),
  ref: Type.String({ description: 'the reference exactly as kubeadm asks for it' }),
});
export type KubeadmImage = Static<typeof KubeadmImage>;

/** What a joining node needs. Secrets are in 0600 files named here, never here. */
export const KubeadmJoinInfo = Type.Object({
  /** host:port of the API server (the control-plane endpoint when set). */
  apiServerEndpoint: Type.String(),
  /** A 0600 file on the control-plane node holding the bootstrap token; copy it to a joining node. */
  tokenFile: AbsolutePath,
  tokenTtl: Type.Optional(Type.String({ description: 'the token lifetime asked of kubeadm, e.g. 24h0m0s' })),
  /** `sha256:<hex of the CA certificate's DER SubjectPublicKeyInfo>` (kubeadm's discovery-token-ca-cert-hash). */
  caCertHashes: Type.Array(Type.String({ pattern: '^sha256:[a-f0-9]{64}$' }), { minItems: 1 }),
  /** A 0600 file with the key that decrypts the uploaded control-plane certificates (valid 2 h); only with a control-plane endpoint. */
  certificateKeyFile: Type.Optional(AbsolutePath),
  createdAt: Timestamp,
});
export type KubeadmJoinInfo = Static<typeof KubeadmJoinInfo>;

/** What the KubeletConfiguration document of the configuration tells every kubelet. */
export const KubeadmKubelet = Type.Object({
  cgroupDriver: Type.Union([Type.Literal('systemd'), Type.Literal('cgroupfs')], {
    description: "the kubelet's cgroup driver; must be containerd's (runc SystemdCgroup)",
  }),
  cgroupDriverFrom: Type.Union([Type.Literal('nodeprep'), Type.Literal('flag'), Type.Literal('default')], {
    description: 'nodeprep.containerd.cgroupDriver, --kubelet-arg cgroup-driver, or systemd by default',
  }),
  resolvConf: Type.Optional(Type.String({ description: "the nameserver file pods get (nodeprep.dns.resolvConf): the site's resolvers" })),
});
export type KubeadmKubelet = Static<typeof KubeadmKubelet>;

/** One check of `ag-kubeadm preflight` besides the images and the sandbox image. */
export const KubeadmPreflightCheck = Type.Object({
  name: Type.String({ description: 'version-skew, containerd-version, cgroup-v2, kubeadm-config (init), control-plane-join (a control-plane join)' }),
  result: Type.Union([Type.Literal('ok'), Type.Literal('warning'), Type.Literal('skipped')]),
  detail: Type.String({ description: 'what was compared, and with what' }),
});
export type KubeadmPreflightCheck = Static<typeof KubeadmPreflightCheck>;

/** One step of an upgrade on one node, in the order it ran. */
export const KubeadmUpgradeStep = Type.Object({
  node: Type.String(),
  step: Type.String({ description: 'install-kubeadm, kubeadm-upgrade-apply, kubeadm-upgrade-node, drain, install-kubelet, install-kubectl, restart-kubelet, uncordon' }),
  status: Type.Union([Type.Literal('done'), Type.Literal('skipped'), Type.Literal('planned')]),
  detail: Type.Optional(Type.String()),
  at: Type.Optional(Timestamp),
});
export type KubeadmUpgradeStep = Static<typeof KubeadmUpgradeStep>;

/** `ag-kubeadm upgrade plan|apply|node`: from the running version to the document's, one minor at a time, control plane first. */
export const KubeadmUpgrade = Type.Object({
  from: Type.String({ description: 'the version the cluster runs (kubeadm-config ConfigMap)' }),
  to: Type.String({ description: 'cluster.kubernetesVersion of the document (the bundle unpacked)' }),
  kind: Type.Union([Type.Literal('patch'), Type.Literal('minor')]),
  plannedAt: Timestamp,
  /** Every image the new version needs, and where it was found. */
  images: Type.Array(Type.Object({ ref: Type.String(), foundIn: Type.Union([Type.Literal('containerd'), Type.Literal('registry')]) })),
  /** The new kubeadm, kubelet and kubectl in the bundle. */
  binaries: Type.Array(Type.Object({ name: Type.String(), version: Type.String(), path: Type.String({ description: 'in the bundle' }), installPath: AbsolutePath })),
  steps: Type.Array(KubeadmUpgradeStep),
});
export type KubeadmUpgrade = Static<typeof KubeadmUpgrade>;

/**
 * The `kubeadm` section: owned by ag-kubeadm. `config` writes the
 * configuration, `init` adds the admin kubeconfig and join information, `join`
 * records the node it joined. Tokens and certificate keys live in 0600 files,
 * never here.
 */
export const KubeadmSection = Type.Object({
  /** Where the configuration was written on the node (the exact path passed to `kubeadm --config`). */
  configFile: AbsolutePath,
  apiVersion: Type.Union([Type.Literal('kubeadm.k8s.io/v1beta3'), Type.Literal('kubeadm.k8s.io/v1beta4')]),
  kubernetesVersion: Type.String(),
  /** The configuration file's exact content. */
  config: Type.String({ description: 'the configuration as written' }),
  /** ClusterConfiguration.imageRepository. */
  imageRepository: Type.String(),
  /** The KubeletConfiguration written with it (absent in documents from before it was written). */
  kubelet: Type.Optional(KubeadmKubelet),
  /**
   * `upstream`: kubeadm asks for upstream names (registry.k8s.io/…) and
   * containerd's hosts.toml mirrors serve them from the internal registry;
   * `internal`: kubeadm asks the internal registry directly
   * (`<registry.endpoint>[/<registry.prefix>]/registry.k8s.io/…`); `custom`: a repository the operator named.
   */
  imageSource: Type.Union([Type.Literal('upstream'), Type.Literal('internal'), Type.Literal('custom')]),
  /**
   * The CRI sandbox (pause) image: `<imageRepository>/pause:<fetch.components.pause>`.
   * ag-nodeprep writes exactly this into containerd's config (sandbox_image /
   * pinned_images.sandbox) so that kubeadm and the runtime agree.
   */
  sandboxImage: Type.String(),
  /** Every image kubeadm will ask for, pause included. */
  images: Type.Array(KubeadmImage),
  /** This node as the configuration registers it. */
  node: Type.Object({
    name: Type.String(),
    advertiseAddress: Type.String(),
    bindPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    criSocket: Type.String(),
  }),
  controlPlaneEndpoint: Type.Optional(Type.String({ description: 'host[:port] in front of every control-plane node (HA)' })),
  /** True when the control-plane taint is removed so that workloads (and coredns) run on a single node. */
  singleNode: Type.Boolean(),
  /** The admin kubeconfig kubeadm wrote (set by init). */
  adminKubeconfig: Type.Optional(AbsolutePath),
  initializedAt: Type.Optional(Timestamp),
  join: Type.Optional(KubeadmJoinInfo),
  /** Set by `ag-kubeadm join` on the node that joined. */
  joined: Type.Optional(
    Type.Object({
      node: Type.String(),
      controlPlane: Type.Boolean(),
      apiServerEndpoint: Type.String(),
      joinedAt: Timestamp,
    }),
  ),
  /** What the preflight found before kubeadm ran. */
  preflight: Type.Optional(
    Type.Object({
      checkedAt: Timestamp,
      images: Type.Array(
        Type.Object({
          ref: Type.String(),
          foundIn: Type.Union([Type.Literal('containerd'), Type.Literal('registry'), Type.Literal('skipped')]),
        }),
      ),
      containerdSandboxImage: Type.Optional(Type.String()),
      checks: Type.Optional(Type.Array(KubeadmPreflightCheck)),
    }),
  ),
  /** Set by `ag-kubeadm upgrade`. */
  upgrade: Type.Optional(KubeadmUpgrade),
});
export type KubeadmSection = Static<typeof KubeadmSection>;
