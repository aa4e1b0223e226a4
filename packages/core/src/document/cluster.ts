import { Type, type Static } from '@sinclair/typebox';
import { Architecture } from './common.js';

/** The CNI's options, as a site file gives them (spec.cni.options), for the stage that installs it; flannel's are ag-flannel render's flags. */
export const CniOptions = Type.Object(
  {
    backend: Type.Optional(Type.String({ description: 'flannel net-conf.json Backend.Type: vxlan (default), host-gw, wireguard… (ag-flannel render --backend)' })),
    iface: Type.Optional(Type.Array(Type.String(), { description: 'flanneld --iface: interface names every node has, tried first' })),
    ifaceRegex: Type.Optional(Type.Array(Type.String(), { description: 'flanneld --iface-regex: Go regular expressions matched against interface names and addresses' })),
    ifaceCanReach: Type.Optional(Type.String({ description: 'flanneld --iface-can-reach: use the interface that routes to this address' })),
  },
  { description: "the CNI's options (site file spec.cni.options)" },
);
export type CniOptions = Static<typeof CniOptions>;

/**
 * What the operator asked for: the cluster every stage builds towards.
 * Written by `ag-fetch plan`; read by every later stage (the pod subnet here
 * is the single source for kubeadm and flannel).
 */
export const ClusterSpec = Type.Object(
  {
    kubernetesVersion: Type.String({ pattern: '^v\\d+\\.\\d+\\.\\d+$', description: 'an exact release, e.g. v1.27.3' }),
    architectures: Type.Array(Architecture, { minItems: 1 }),
    os: Type.String({ pattern: '^[a-z]+-[0-9.]+$', description: 'OS id and version, e.g. fedora-37, debian-12, ubuntu-22.04' }),
    cni: Type.Object({
      name: Type.String({ description: 'the CNI plugin, e.g. flannel' }),
      version: Type.String({ description: 'its release, e.g. v0.22.0' }),
      options: Type.Optional(CniOptions),
    }),
    podSubnet: Type.String({ description: 'the pod network CIDR, e.g. 10.244.0.0/16' }),
    serviceSubnet: Type.String({ description: 'the service CIDR, e.g. 10.96.0.0/12' }),
    dnsDomain: Type.String({ description: 'the cluster DNS domain, e.g. cluster.local' }),
    registry: Type.Optional(
      Type.Object(
        { endpoint: Type.String({ description: "HOST:PORT as the nodes address it (ag-registry up --endpoint)" }) },
        { description: "the site's internal registry, as the site file named it (spec.registry)" },
      ),
    ),
  },
  { description: 'the cluster being built, as the operator asked for it' },
);
export type ClusterSpec = Static<typeof ClusterSpec>;
