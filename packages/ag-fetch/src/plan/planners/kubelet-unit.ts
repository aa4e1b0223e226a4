import { pinnedTextFile, type Planner } from '../context.js';
import { kubeletTemplateUrls } from '../conventions.js';

/**
 * The kubelet systemd unit and kubeadm's drop-in from kubernetes/release's
 * package templates (where they live depends on the release: conventions.ts). Upstream publishes no checksum for them, so plan pins what it
 * fetched. They say /usr/bin/kubelet; ag-nodeprep installs to /usr/local/bin
 * and rewrites that path when it installs them.
 */
export const kubeletUnitPlanner: Planner = {
  name: 'kubelet-unit',
  async plan(context) {
    const release = context.components['kubernetes-release']!;
    const templates = kubeletTemplateUrls(release);
    const note = 'upstream says /usr/bin/kubelet; ag-nodeprep installs kubelet to /usr/local/bin and rewrites the path';
    const [unit, dropIn] = await Promise.all([
      pinnedTextFile(context, {
        name: 'kubelet.service',
        kind: 'systemd-unit',
        version: release,
        upstreamUrl: templates.unit,
        path: 'files/systemd/kubelet.service',
        install: { path: '/etc/systemd/system/kubelet.service', mode: '0644' },
        note,
      }),
      pinnedTextFile(context, {
        name: '10-kubeadm.conf',
        kind: 'systemd-unit',
        version: release,
        upstreamUrl: templates.dropIn,
        path: 'files/systemd/10-kubeadm.conf',
        install: { path: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', mode: '0644' },
        note,
      }),
    ]);
    return { files: [unit.artifact, dropIn.artifact] };
  },
};
