import { readFile, readdir, readlink } from 'node:fs/promises';
import { requireAction } from '../actions/run-command.js';
import type { Action } from '../actions/types.js';
import { writeFileAction } from '../actions/write-file.js';
import type { Step, StepContext } from '../context.js';
import { inRoot, lstatNode, nodeExists, readNodeText } from '../root-fs.js';
import { disableAndStopActions, findUnit, unitIsActive } from '../systemd.js';
import { generatedHeader } from './header.js';

export const RESOLV_CONF = '/etc/resolv.conf';
/** systemd-resolved's list of the real upstream servers (the stub file names only 127.0.0.53). */
export const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

/** `nameserver` lines of a resolv.conf. */
export function nameserversOf(text: string): string[] {
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
}

/** `DNS=` servers of resolved.conf and its drop-ins. */
async function resolvedConfServers(root: string): Promise<string[]> {
  const files = ['/etc/systemd/resolved.conf'];
  const dropins = await readdir(inRoot(root, '/etc/systemd/resolved.conf.d')).catch(() => [] as string[]);
  files.push(...dropins.filter((f) => f.endsWith('.conf')).sort().map((f) => `/etc/systemd/resolved.conf.d/${f}`));
  const servers: string[] = [];
  for (const file of files) {
    const text = (await readNodeText(root, file)) ?? '';
    for (const m of text.matchAll(/^\s*DNS\s*=\s*(.*)$/gm)) servers.push(...m[1]!.split(/\s+/).filter(Boolean).map((s) => s.replace(/#.*$/, '')));
  }
  return servers;
}

/** Nameservers for a plain resolv.conf: --nameserver, else what systemd-resolved uses now (host), else resolved.conf's DNS=. */
async function chooseNameservers(context: StepContext): Promise<{ servers: string[]; source: string }> {
  if (context.options.nameservers.length > 0) return { servers: context.options.nameservers, source: '--nameserver' };
  if (context.hostMode) {
    const upstream = nameserversOf(await readFile(RESOLVED_UPSTREAM, 'utf8').catch(() => ''));
    if (upstream.length > 0) return { servers: upstream, source: RESOLVED_UPSTREAM };
  }
  const configured = await resolvedConfServers(context.root);
  return { servers: configured, source: 'DNS= in resolved.conf' };
}

export function resolvConf(servers: readonly string[], source: string): string {
  return `${generatedHeader('dns', `a plain resolv.conf for the kubelet and CoreDNS (nameservers from ${source})`)}${servers.map((s) => `nameserver ${s}\n`).join('')}`;
}

export const dnsStep: Step = {
  name: 'dns',
  summary: 'a real /etc/resolv.conf for the kubelet and CoreDNS; systemd-resolved disabled (default) or kept with its upstream list',
  async plan(context) {
    const { root } = context;
    const info = await lstatNode(root, RESOLV_CONF);
    const link = info?.isSymbolicLink() ? await readlink(inRoot(root, RESOLV_CONF)) : undefined;
    const toResolved = link !== undefined && /\/run\/systemd\/resolve\//.test(link.startsWith('/') ? link : `/etc/${link}`);
    const resolvedInstalled = (await findUnit(root, 'systemd-resolved.service')) !== undefined;
    const usable = info !== undefined && (await nodeExists(root, RESOLV_CONF));
    const ours = (await readNodeText(root, RESOLV_CONF))?.includes('Written by ag-nodeprep (step dns)') === true;
    const actions: Action[] = [];

    if (toResolved && context.options.resolved === 'keep') {
      // kubeadm points the kubelet at systemd-resolved's upstream list when resolved is active.
      return [
        requireAction({
          step: 'dns',
          target: RESOLVED_UPSTREAM,
          hostOnly: true,
          why: 'systemd-resolved stays: the kubelet must read the upstream list, not the 127.0.0.53 stub (CoreDNS would loop)',
          async problems(env) {
            return (await unitIsActive(env, 'systemd-resolved.service')) && nameserversOf(await readFile(RESOLVED_UPSTREAM, 'utf8').catch(() => '')).length > 0
              ? []
              : [`systemd-resolved is not running with an upstream server (${RESOLVED_UPSTREAM})`];
          },
          hint: 'start systemd-resolved with a DNS= server, or run with --resolved disable --nameserver IP',
        }),
      ];
    }
    const replace = toResolved || !usable || context.options.nameservers.length > 0;
    if (replace) {
      const { servers, source } = await chooseNameservers(context);
      if (servers.length === 0) {
        actions.push(
          requireAction({
            step: 'dns',
            target: RESOLV_CONF,
            why: 'the kubelet and CoreDNS need a resolv.conf naming a real nameserver',
            problems: async () => [`no nameserver is known for ${RESOLV_CONF} (${link ? `it links to ${link}` : 'it is missing'}, and resolved.conf names no DNS=)`],
            hint: 'pass --nameserver IP (the site\'s DNS server), or --resolved keep on a host where systemd-resolved runs',
          }),
        );
      } else {
        actions.push(
          await writeFileAction(
            {
              step: 'dns',
              path: RESOLV_CONF,
              why: toResolved
                ? 'replace the link to systemd-resolved\'s 127.0.0.53 stub (CoreDNS would forward to itself) with the upstream servers'
                : 'the kubelet needs a resolv.conf that exists',
              mode: 0o644,
              content: resolvConf(servers, source),
            },
            root,
          ),
        );
      }
    }
    // Also once our own resolv.conf is in place, so check keeps verifying that resolved stays off.
    if (resolvedInstalled && context.options.resolved === 'disable' && (toResolved || !usable || ours)) {
      actions.push(...disableAndStopActions('dns', 'systemd-resolved.service', 'systemd-resolved would put its stub back'));
    }
    if (actions.length === 0) {
      actions.push(
        requireAction({
          step: 'dns',
          target: RESOLV_CONF,
          why: 'the kubelet and CoreDNS read it',
          async problems(env) {
            return nameserversOf((await readNodeText(env.root, RESOLV_CONF)) ?? '').length > 0 ? [] : [`${RESOLV_CONF} names no nameserver`];
          },
          hint: 'pass --nameserver IP to write one',
        }),
      );
    }
    return actions;
  },
};
