import { runProgram } from '@ag/core';
import { runAction } from '../actions/run-command.js';
import type { Action } from '../actions/types.js';
import { writeFileAction } from '../actions/write-file.js';
import type { StepCode } from '../context.js';
import { readNodeText } from '../root-fs.js';
import { disableAndStopActions, findUnit, unitIsActive } from '../systemd.js';

export const FIREWALLD_SERVICE_NAME = 'ag-kubernetes';
export const FIREWALLD_SERVICE_FILE = `/etc/firewalld/services/${FIREWALLD_SERVICE_NAME}.xml`;

/** Ports of a kubeadm node (kubernetes.io "Ports and Protocols") and flannel's VXLAN. Control plane and worker alike: a node may become either. */
export const KUBERNETES_PORTS: ReadonlyArray<{ port: string; protocol: 'tcp' | 'udp'; what: string }> = [
  { port: '6443', protocol: 'tcp', what: 'Kubernetes API server' },
  { port: '2379-2380', protocol: 'tcp', what: 'etcd server client API' },
  { port: '10250', protocol: 'tcp', what: 'kubelet API' },
  { port: '10256', protocol: 'tcp', what: 'kube-proxy health' },
  { port: '10257', protocol: 'tcp', what: 'kube-controller-manager' },
  { port: '10259', protocol: 'tcp', what: 'kube-scheduler' },
  { port: '30000-32767', protocol: 'tcp', what: 'NodePort Services' },
  { port: '30000-32767', protocol: 'udp', what: 'NodePort Services' },
  { port: '8472', protocol: 'udp', what: 'flannel VXLAN' },
];

export function firewalldServiceXml(): string {
  const ports = KUBERNETES_PORTS.map((p) => `  <port protocol="${p.protocol}" port="${p.port}"/> <!-- ${p.what} -->`);
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<!-- Written by ag-nodeprep (step firewall): the ports a kubeadm node and flannel use. -->',
    '<service>',
    '  <short>Kubernetes (ag)</short>',
    '  <description>Kubernetes control plane, kubelet, NodePorts and flannel VXLAN</description>',
    ...ports,
    '</service>',
    '',
  ].join('\n');
}

/** A firewalld zone file with the service added before `</zone>` (idempotent). */
export function zoneWithService(xml: string, service: string): string {
  if (xml.includes(`<service name="${service}"/>`)) return xml;
  return xml.replace(/([ \t]*)<\/zone>/, `  <service name="${service}"/>\n$1</zone>`);
}

const EMPTY_ZONE = (zone: string): string =>
  `<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>${zone}</short>\n</zone>\n`;

export const firewallStep: StepCode = {
  async plan({ root, options }) {
    if ((await findUnit(root, 'firewalld.service')) === undefined) return [];
    if (options.firewall === 'disable') {
      return disableAndStopActions('firewall', 'firewalld.service', 'firewalld drops pod and service traffic that kube-proxy and flannel route');
    }
    const conf = (await readNodeText(root, '/etc/firewalld/firewalld.conf')) ?? '';
    const zone = /^\s*DefaultZone\s*=\s*(\S+)/m.exec(conf)?.[1] ?? 'public';
    const shipped = (await readNodeText(root, `/usr/lib/firewalld/zones/${zone}.xml`)) ?? EMPTY_ZONE(zone);
    const actions: Action[] = [
      await writeFileAction(
        { step: 'firewall', path: FIREWALLD_SERVICE_FILE, why: 'a firewalld service naming the Kubernetes ports', mode: 0o644, content: firewalldServiceXml() },
        root,
      ),
      await writeFileAction(
        {
          step: 'firewall',
          path: `/etc/firewalld/zones/${zone}.xml`,
          why: `open the ${FIREWALLD_SERVICE_NAME} service in the default zone (${zone}), permanently`,
          content: (current) => zoneWithService(current ?? shipped, FIREWALLD_SERVICE_NAME),
          explain: () => [`firewalld zone ${zone} does not allow ${FIREWALLD_SERVICE_NAME}`],
        },
        root,
      ),
      runAction({
        step: 'firewall',
        command: ['firewall-cmd', '--reload'],
        why: 'make the running firewalld read the permanent configuration',
        async due(env) {
          if (!(await unitIsActive(env, 'firewalld.service'))) return undefined;
          const query = await runProgram('firewall-cmd', [`--zone=${zone}`, `--query-service=${FIREWALLD_SERVICE_NAME}`], {
            env: env.io.env,
            stderr: env.io.stderr,
            allowFailure: true,
            streamStderr: false,
          });
          return query.exitCode === 0 ? undefined : `the running firewalld does not allow ${FIREWALLD_SERVICE_NAME} yet`;
        },
      }),
    ];
    return actions;
  },
};
