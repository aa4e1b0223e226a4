import { Type, type Static } from '@sinclair/typebox';
import { Sha256Hex, Timestamp } from './common.js';

/** One image reference the manifest uses, as upstream wrote it and as rendered. */
export const FlannelImage = Type.Object({
  upstream: Type.String({ description: 'the reference as the upstream manifest writes it' }),
  pinned: Type.String({ description: 'the same image pinned by the digest stored in the layout (name:tag@sha256:…), under the registry when render was given one' }),
});

/** The `flannel` section: owned by ag-flannel. */
export const FlannelSection = Type.Object({
  /** The rendered manifest: relative to the bundle root, or absolute when written outside it. */
  manifest: Type.String({ description: 'the rendered manifest, relative to the bundle root or absolute' }),
  sha256: Sha256Hex,
  /** The upstream manifest it was rendered from (relative to the bundle root or absolute). */
  source: Type.String(),
  sourceSha256: Sha256Hex,
  /** net-conf.json `Network`: always the document's cluster.podSubnet. */
  podSubnet: Type.String(),
  /** net-conf.json `Backend.Type`: vxlan, host-gw, wireguard, … */
  backend: Type.String(),
  /** flanneld `--iface` values, when set: interface names (an address exists on one node only). */
  interfaces: Type.Optional(Type.Array(Type.String())),
  /** flanneld `--iface-regex` values, when set: tried after `--iface`. */
  interfaceRegexes: Type.Optional(Type.Array(Type.String())),
  /** flanneld `--iface-can-reach`, when set: the interface that routes to this address, tried last. */
  interfaceCanReach: Type.Optional(Type.String()),
  images: Type.Array(FlannelImage),
  /**
   * `HOST[:PORT][/PREFIX]` the images are pinned in (`render --registry`):
   * the manifest then names `<registry>/<upstream host>/<path>:<tag>@sha256:…`.
   * Absent: upstream names, which containerd's hosts.toml mirrors serve.
   */
  registry: Type.Optional(Type.String()),
  /** Set by apply. */
  daemonSet: Type.Optional(Type.Object({ namespace: Type.String(), name: Type.String() })),
  appliedAt: Type.Optional(Timestamp),
  /** Every node apply waited for: Ready, with its flannel pod Running. */
  nodes: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String(),
        ready: Type.Boolean(),
        pod: Type.Optional(Type.String({ description: "the node's flannel pod, Running when apply finished" })),
      }),
    ),
  ),
});
export type FlannelSection = Static<typeof FlannelSection>;
