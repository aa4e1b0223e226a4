import { readFile } from 'node:fs/promises';
import { validateClusterNetworks } from '@ag/core';
import { requireAction } from '../actions/run-command.js';
import type { Action } from '../actions/types.js';
import { writeFileAction } from '../actions/write-file.js';
import type { StepCode } from '../context.js';
import { disableAndStopActions, unitIsActive } from '../systemd.js';
import { chooseSiteDns, KUBELET_RESOLV_CONF, noSiteDnsReason, parseResolvConf, readNodeDns, RESOLV_CONF, RESOLVED_UPSTREAM, type SiteDns } from './dns-sources.js';
import { generatedHeader } from './header.js';

export { KUBELET_RESOLV_CONF, RESOLV_CONF, RESOLVED_UPSTREAM } from './dns-sources.js';

/** `nameserver` lines of a resolv.conf. */
export function nameserversOf(text: string): string[] {
  return parseResolvConf(text).nameservers;
}

/** A resolv.conf naming the site's nameservers (and the node's search domains and options). */
export function resolvConf(dns: SiteDns, purpose: string): string {
  return (
    generatedHeader('dns', `${purpose} (nameservers from ${dns.source})`) +
    dns.nameservers.map((s) => `nameserver ${s}\n`).join('') +
    (dns.search.length > 0 ? `search ${dns.search.join(' ')}\n` : '') +
    (dns.options.length > 0 ? `options ${dns.options.join(' ')}\n` : '')
  );
}

/**
 * Name resolution for the kubelet and the host. The kubelet always gets
 * KUBELET_RESOLV_CONF, a plain file naming the site's nameservers, recorded in
 * nodeprep.dns for ag-kubeadm's KubeletConfiguration `resolvConf`: left to
 * itself, kubeadm points the kubelet at systemd-resolved's upstream list
 * whenever resolved runs, even when /etc/resolv.conf is a plain file
 * (cmd/kubeadm/app/componentconfigs/kubelet.go, kubeletConfig.Default), and
 * that list can name a resolver outside the site. The host's own
 * /etc/resolv.conf: a link to resolved's stub is replaced by a plain file and
 * resolved disabled (--resolved disable, the default) or left to resolved
 * (--resolved keep); a file of its own is left alone unless --nameserver is given.
 */
export const dnsStep: StepCode = {
  async plan(context) {
    const node = await readNodeDns(context);
    const keep = context.options.resolved === 'keep';
    const given = context.options.nameservers;
    const site = chooseSiteDns(node, given);
    const actions: Action[] = [];
    if (site === undefined) {
      actions.push(
        requireAction({
          step: 'dns',
          target: RESOLV_CONF,
          why: "the kubelet gives pods the site's nameservers, and CoreDNS forwards to them",
          problems: async () => [noSiteDnsReason(node)],
          hint: "pass --nameserver IP (the site's DNS server), or set DNS= in /etc/systemd/resolved.conf",
        }),
      );
      return actions;
    }
    for (const warning of site.warnings) context.log.warn(warning);
    // A site resolver inside the pod or service network would be shadowed there (and the next stage refuses the document).
    const cluster = context.document?.cluster;
    if (cluster !== undefined) {
      validateClusterNetworks({ ...cluster, nodeNetworks: site.nameservers.map((value) => ({ field: `nameserver (from ${site.source})`, value })) });
    }

    if (keep && node.kind === 'resolved') {
      actions.push(
        requireAction({
          step: 'dns',
          target: RESOLVED_UPSTREAM,
          hostOnly: true,
          why: "systemd-resolved stays, and this host's own lookups go through its 127.0.0.53 stub",
          async problems(env) {
            return (await unitIsActive(env, 'systemd-resolved.service')) && nameserversOf(await readFile(RESOLVED_UPSTREAM, 'utf8').catch(() => '')).length > 0
              ? []
              : [`systemd-resolved is not running with an upstream server (${RESOLVED_UPSTREAM})`];
          },
          hint: 'start systemd-resolved with a DNS= server, or run with --resolved disable --nameserver IP',
        }),
      );
    } else if (node.kind !== 'file' || given.length > 0) {
      actions.push(
        await writeFileAction(
          {
            step: 'dns',
            path: RESOLV_CONF,
            why:
              node.kind === 'resolved'
                ? `replace the link to systemd-resolved's ${node.link} with a plain file naming the site's nameservers`
                : node.kind === 'missing'
                  ? 'this host needs a resolv.conf that exists'
                  : "name the site's nameservers (--nameserver)",
            mode: 0o644,
            content: resolvConf(site, 'a plain resolv.conf for this host'),
          },
          context.root,
        ),
      );
    }
    // Whenever ag writes /etc/resolv.conf, and also once its file is in place, so that a re-run changes nothing and check keeps verifying it.
    if (node.resolved.installed && !keep && (node.kind !== 'file' || node.ours || given.length > 0)) {
      actions.push(...disableAndStopActions('dns', 'systemd-resolved.service', 'systemd-resolved would put its stub back'));
    }
    actions.push(
      await writeFileAction(
        {
          step: 'dns',
          path: KUBELET_RESOLV_CONF,
          why: "the nameservers the kubelet gives pods and CoreDNS forwards to (KubeletConfiguration resolvConf): the site's, whatever systemd-resolved does",
          mode: 0o644,
          content: resolvConf(site, "the kubelet's resolv.conf: the site's nameservers for pods and CoreDNS"),
        },
        context.root,
      ),
    );
    context.dns = { resolvConf: KUBELET_RESOLV_CONF, nameservers: site.nameservers, source: site.source };
    return actions;
  },
};
