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
  /**
   * `upstream`: kubeadm asks for upstream names (registry.k8s.io/…) and
   * containerd's hosts.toml mirrors serve them from the internal registry;
   * `internal`: kubeadm asks the internal registry directly
   * (`<registry.endpoint>/registry.k8s.io/…`); `custom`: a repository the operator named.
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
    }),
  ),
});
export type KubeadmSection = Static<typeof KubeadmSection>;
