import { Value } from '@sinclair/typebox/value';
import { UsageError } from '../errors.js';
import { parseIpAddress } from '../network/address.js';
import { clusterNetworkProblems, type NodeNetwork } from '../network/cluster-networks.js';
import { DocumentSchema, READABLE_API_VERSIONS, type AgDocument } from './schema.js';

/** `/fetch/files/0/sha256` -> `$.fetch.files[0].sha256` */
export function jsonPointerToPath(pointer: string): string {
  if (pointer === '') return '$';
  return (
    '$' +
    pointer
      .split('/')
      .slice(1)
      .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((part) => (/^\d+$/.test(part) ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`))
      .join('')
  );
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The host of `host[:port]` or `[v6]:port`. */
function endpointHost(endpoint: string): string {
  if (endpoint.startsWith('[')) return endpoint.slice(1, endpoint.indexOf(']'));
  return endpoint.split(':').length === 2 ? endpoint.split(':')[0]! : endpoint;
}

/**
 * What the schema cannot say: the cluster's networks parse, have sane sizes
 * and do not overlap, and the node addresses the document records (the
 * advertise address, a control-plane endpoint given as an address, the site
 * nameservers pods are sent to) lie outside the pod and service networks.
 */
function networkProblems(document: AgDocument): string[] {
  const nodes: NodeNetwork[] = [];
  const kubeadm = document.kubeadm;
  if (kubeadm !== undefined) {
    nodes.push({ field: '$.kubeadm.node.advertiseAddress', value: kubeadm.node.advertiseAddress });
    const host = kubeadm.controlPlaneEndpoint === undefined ? undefined : endpointHost(kubeadm.controlPlaneEndpoint);
    if (host !== undefined && parseIpAddress(host) !== undefined) nodes.push({ field: '$.kubeadm.controlPlaneEndpoint', value: host });
  }
  (document.nodeprep?.dns?.nameservers ?? []).forEach((server, i) => nodes.push({ field: `$.nodeprep.dns.nameservers[${i}]`, value: server }));
  return clusterNetworkProblems(
    { podSubnet: document.cluster?.podSubnet, serviceSubnet: document.cluster?.serviceSubnet, nodeNetworks: nodes },
    { fields: { podSubnet: '$.cluster.podSubnet', serviceSubnet: '$.cluster.serviceSubnet' } },
  );
}

function invalid(source: string, problems: string[]): UsageError {
  return new UsageError(`${source}: the document is not valid:\n  ${problems.join('\n  ')}`, {
    hint: 'fix the fields named above (docs/document.md describes each section), or re-run the stage that wrote them',
  });
}

/**
 * Checks a parsed JSON value against the document schema. Throws a
 * UsageError that names every wrong path (up to 10), what was expected and
 * what was found, then the cluster's networks (see networkProblems).
 * Unknown fields are allowed and kept.
 */
export function validateDocument(value: unknown, source: string): AgDocument {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${source}: the document must be a JSON object, got ${describeValue(value)}`);
  }
  const record = value as Record<string, unknown>;
  const apiVersion = record['apiVersion'];
  if (typeof apiVersion !== 'string') {
    throw new UsageError(`${source}: $.apiVersion is missing; this is not an ag document`, {
      hint: `an ag document starts with {"apiVersion":"${READABLE_API_VERSIONS[0]}","kind":"Cluster"}; start the pipeline with ag-fetch plan`,
    });
  }
  if (!READABLE_API_VERSIONS.includes(apiVersion)) {
    throw new UsageError(
      `${source}: apiVersion ${JSON.stringify(apiVersion)} is not one this build reads (it reads ${READABLE_API_VERSIONS.join(', ')})`,
      { hint: 'use the ag tools from the same release as the stage that wrote the document (the bundle carries them in tools/)' },
    );
  }
  if (Value.Check(DocumentSchema, value)) {
    const problems = networkProblems(value);
    if (problems.length > 0) throw invalid(source, problems);
    return value;
  }
  const problems: string[] = [];
  for (const error of Value.Errors(DocumentSchema, value)) {
    const line = `${jsonPointerToPath(error.path)}: ${error.message.replace(/^Expected/, 'expected')}, got ${describeValue(error.value)}`;
    if (!problems.includes(line)) problems.push(line);
    if (problems.length >= 10) break;
  }
  throw invalid(source, problems);
}
