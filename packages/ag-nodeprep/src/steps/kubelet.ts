import type { StepCode } from '../context.js';
import { daemonReloadAction, enableUnitAction } from '../systemd.js';
import { bundleUnitActions, bundleUnits } from './bundle-units.js';
import { CONTAINERD_UNIT } from './containerd.js';

export { defaultUnitPath, fixUnitPaths } from './bundle-units.js';

/** The kubelet's unit and kubeadm's drop-in from the bundle (containerd.service, when carried, is the containerd step's). */
export const kubeletStep: StepCode = {
  async plan(context) {
    const units = bundleUnits(context, CONTAINERD_UNIT, 'except');
    if (units.length === 0) return [];
    return [
      ...(await bundleUnitActions(context, units, 'kubelet')),
      enableUnitAction('kubelet', 'kubelet.service', 'start the kubelet at boot (kubeadm init/join start it the first time)'),
      daemonReloadAction('kubelet'),
    ];
  },
};
