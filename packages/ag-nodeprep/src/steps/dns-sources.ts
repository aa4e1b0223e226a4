import { readlink, readdir } from 'node:fs/promises';
import { isLoopback, parseIpAddress, systemdUnitActive, UsageError } from '@ag/core';
import type { StepContext } from '../context.js';
import { inRoot, lstatNode, nodeExists, readNodeText } from '../root-fs.js';
import { findUnit } from '../systemd.js';

export const RESOLV_CONF = '/etc/resolv.conf';
/** systemd-resolved's list of the servers it forwards to (the stub file names only 127.0.0.53). */
export const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';
/**
 * The kubelet's own nameserver file, at the same path on every node: kubeadm
 * keeps one KubeletConfiguration for the whole cluster (the kubelet-config
 * ConfigMap every joining node reads), so its `resolvConf` must name a path
 * that holds the site's nameservers on each of them.
 */
export const KUBELET_RESOLV_CONF = '/etc/kubernetes/resolv.conf';

/** The lines of a resolv.conf (resolv.conf(5)) the kubelet reads: nameserver, search (or domain), options. */
export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const result: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const [keyword, ...values] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (keyword === 'nameserver' && values[0] !== undefined) result.nameservers.push(values[0]);
    // The last search or domain line wins (resolv.conf(5)).
    if (keyword === 'search' || keyword === 'domain') result.search = values;
    if (keyword === 'options') result.options.push(...values);
  }
  return result;
}

/** What the node's name resolution looks like, read under --root without running anything there. */
export interface NodeDns {
  /** /etc/resolv.conf: missing (or a dangling link), a link into systemd-resolved's files, or a file of its own (or another manager's). */
  kind: 'missing' | 'resolved' | 'file';
  /** Where /etc/resolv.conf links to, when it is a link. */
  link?: string;
  /** /etc/resolv.conf as it reads, links followed. */
  file: ResolvConf;
  /** Written by ag-nodeprep's dns step. */
  ours: boolean;
  /** Where ag-nodeprep took the nameservers of a file it wrote (its header says), so that a re-run keeps saying so. */
  oursFrom?: string;
  resolved: {
    installed: boolean;
    /** On the host: systemctl is-active. Under --root: its runtime list in the tree's /run (only a running resolved writes it; /run is a tmpfs). */
    running: boolean;
    /** RESOLVED_UPSTREAM, when running. */
    upstream: ResolvConf;
    /** DNS= of resolved.conf and its drop-ins: what the site configured. */
    configured: string[];
  };
}

const EMPTY: ResolvConf = { nameservers: [], search: [], options: [] };

/** `DNS=` servers of resolved.conf and its drop-ins (systemd's `IP[:port][%iface][#name]` reduced to the address). */
async function resolvedConfServers(root: string): Promise<string[]> {
  const files = ['/etc/systemd/resolved.conf'];
  const dropins = await readdir(inRoot(root, '/etc/systemd/resolved.conf.d')).catch(() => [] as string[]);
  files.push(...dropins.filter((f) => f.endsWith('.conf')).sort().map((f) => `/etc/systemd/resolved.conf.d/${f}`));
  const servers: string[] = [];
  for (const file of files) {
    const text = (await readNodeText(root, file)) ?? '';
    for (const m of text.matchAll(/^\s*DNS\s*=\s*(.*)$/gm)) servers.push(...m[1]!.split(/\s+/).filter(Boolean).map((s) => s.replace(/[#%].*$/, '')));
  }
  return servers;
}

function oursFrom(text: string): { oursFrom?: string } {
  const from = /^# Written by ag-nodeprep \(step dns\): .*\(nameservers from (.+)\)\.$/m.exec(text)?.[1];
  return from === undefined ? {} : { oursFrom: from };
}

export async function readNodeDns(context: Pick<StepContext, 'root' | 'hostMode' | 'io'>): Promise<NodeDns> {
  const { root } = context;
  const info = await lstatNode(root, RESOLV_CONF);
  const link = info?.isSymbolicLink() ? await readlink(inRoot(root, RESOLV_CONF)) : undefined;
  const text = await readNodeText(root, RESOLV_CONF);
  const toResolved = link !== undefined && /\/run\/systemd\/resolve\//.test(link.startsWith('/') ? link : `/etc/${link}`);
  const installed = (await findUnit(root, 'systemd-resolved.service')) !== undefined;
  const running = context.hostMode ? await systemdUnitActive('systemd-resolved.service', context.io) : await nodeExists(root, RESOLVED_UPSTREAM);
  const upstream = running ? parseResolvConf((await readNodeText(root, RESOLVED_UPSTREAM)) ?? '') : EMPTY;
  return {
    kind: toResolved ? 'resolved' : text === undefined ? 'missing' : 'file',
    ...(link === undefined ? {} : { link }),
    file: text === undefined ? EMPTY : parseResolvConf(text),
    ours: text?.includes('Written by ag-nodeprep (step dns)') === true,
    ...(text === undefined ? {} : oursFrom(text)),
    resolved: { installed, running, upstream, configured: await resolvedConfServers(root) },
  };
}

/** The site nameservers chosen, and where they (and the search domains) came from. */
export interface SiteDns extends ResolvConf {
  source: string;
  warnings: string[];
}

/** Addresses a pod can be sent to: an IP address, not the node's own loopback. */
const reachable = (servers: string[]): string[] =>
  servers.filter((server) => {
    const address = parseIpAddress(server);
    return address !== undefined && !isLoopback(address);
  });

function checkGiven(servers: string[]): void {
  for (const server of servers) {
    const address = parseIpAddress(server);
    if (address === undefined) throw new UsageError(`--nameserver ${JSON.stringify(server)} is not an IP address`, { hint: "pass the site's DNS server by address, e.g. --nameserver 10.0.0.53" });
    if (isLoopback(address)) {
      throw new UsageError(`--nameserver ${server} is a loopback address: pods get the kubelet's nameservers and cannot reach the node's loopback`, {
        hint: "pass the address of the site's DNS server (the one a local resolver on 127.0.0.x forwards to)",
      });
    }
  }
}

/**
 * The site's nameservers: --nameserver; else /etc/resolv.conf when it is a
 * file of its own naming servers a pod can reach (the site manages it);
 * else resolved.conf's DNS= (what the site configured resolved with); else,
 * with a warning, what systemd-resolved forwards to now (which includes what
 * DHCP handed out, possibly a resolver outside the site). Loopback servers
 * (127.0.0.53, a local dnsmasq) are never chosen: pods cannot reach them.
 * The search domains and options come from the node's own view (the plain
 * file, or resolved's list). Undefined when nothing names one.
 */
export function chooseSiteDns(node: NodeDns, given: string[]): SiteDns | undefined {
  const view = node.kind === 'file' ? node.file : node.resolved.upstream;
  const context = { search: view.search, options: view.options };
  let chosen: SiteDns | undefined;
  if (given.length > 0) {
    checkGiven(given);
    chosen = { nameservers: given, source: '--nameserver', ...context, warnings: [] };
  } else if (node.kind === 'file' && reachable(node.file.nameservers).length > 0) {
    const dropped = node.file.nameservers.filter((s) => !reachable([s]).includes(s));
    const warnings = dropped.length === 0 ? [] : [`${RESOLV_CONF} also names ${dropped.join(', ')}, which pods cannot reach; the kubelet's file leaves them out`];
    chosen = { nameservers: reachable(node.file.nameservers), source: node.oursFrom ?? RESOLV_CONF, ...context, warnings };
  } else if (reachable(node.resolved.configured).length > 0) {
    chosen = { nameservers: reachable(node.resolved.configured), source: 'DNS= in resolved.conf', ...context, warnings: [] };
  } else if (reachable(node.resolved.upstream.nameservers).length > 0) {
    const servers = reachable(node.resolved.upstream.nameservers);
    chosen = {
      nameservers: servers,
      source: RESOLVED_UPSTREAM,
      ...context,
      warnings: [`the nameservers ${servers.join(', ')} are what systemd-resolved forwards to now (${RESOLVED_UPSTREAM}, DHCP's included); pass --nameserver IP to name the site's own`],
    };
  }
  // The kubelet passes at most three to a pod (glibc's MAXNS, resolv.conf(5)) and drops the rest.
  if (chosen !== undefined && chosen.nameservers.length > 3) chosen.warnings.push(`only the first 3 of ${chosen.nameservers.length} nameservers reach pods (resolv.conf(5): MAXNS is 3)`);
  return chosen;
}

/** Why no nameserver is known, for the operator. */
export function noSiteDnsReason(node: NodeDns): string {
  if (node.kind === 'file') return `${RESOLV_CONF} names no nameserver a pod can reach (${node.file.nameservers.join(', ') || 'none'}), and resolved.conf names no DNS=`;
  const what = node.kind === 'missing' ? 'it is missing' : `it links to ${node.link}`;
  return `no nameserver is known for ${RESOLV_CONF} (${what}, resolved.conf names no DNS=${node.resolved.running ? ', and systemd-resolved forwards to none' : ', and systemd-resolved is not running'})`;
}
