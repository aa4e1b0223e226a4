import { UsageError } from '@ag/core';

export interface NetConfSettings {
  /** The cluster's pod subnet(s): `10.244.0.0/16`, or dual-stack `10.244.0.0/16,fd00:10:244::/56`. */
  podSubnet: string;
  /** Backend.Type */
  backend: string;
}

/**
 * flannel's net-conf.json with the pod network and backend set, and every
 * other key (EnableNFTables, backend options, …) kept in place and order.
 * Keys (flannel Documentation/configuration.md): Network / IPv6Network,
 * EnableIPv4 / EnableIPv6, Backend.Type. A backend's own options (VNI,
 * Port…) are kept while the type stays, and dropped when it changes (they
 * belong to the old backend).
 */
export function renderNetConf(original: string, settings: NetConfSettings): { text: string; droppedBackendKeys: string[] } {
  let conf: Record<string, unknown>;
  try {
    conf = JSON.parse(original) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`the manifest's net-conf.json is not JSON: ${(error as Error).message}`);
  }
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) throw new UsageError("the manifest's net-conf.json is not a JSON object");
  const subnets = settings.podSubnet.split(',').map((s) => s.trim()).filter(Boolean);
  const v4 = subnets.filter((s) => !s.includes(':'));
  const v6 = subnets.filter((s) => s.includes(':'));
  if (v4.length > 1 || v6.length > 1 || subnets.length === 0) {
    throw new UsageError(`cluster.podSubnet ${JSON.stringify(settings.podSubnet)} is not one IPv4 and/or one IPv6 CIDR`);
  }
  if (v4[0] !== undefined) conf['Network'] = v4[0];
  else conf['EnableIPv4'] = false;
  if (v6[0] !== undefined) {
    conf['IPv6Network'] = v6[0];
    conf['EnableIPv6'] = true;
  }
  const backend = (typeof conf['Backend'] === 'object' && conf['Backend'] !== null ? conf['Backend'] : {}) as Record<string, unknown>;
  let droppedBackendKeys: string[] = [];
  if (backend['Type'] === settings.backend) {
    conf['Backend'] = backend;
  } else {
    droppedBackendKeys = Object.keys(backend).filter((k) => k !== 'Type');
    conf['Backend'] = { Type: settings.backend };
  }
  const indented = /\n( +)"/.exec(original)?.[1]?.length ?? 2;
  return { text: `${JSON.stringify(conf, null, indented)}\n`, droppedBackendKeys };
}
