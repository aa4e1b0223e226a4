import type { Step, StepCode } from '../context.js';
import { binariesStep } from './binaries.js';
import { containerdStep } from './containerd.js';
import { dnsStep } from './dns.js';
import { firewallStep } from './firewall.js';
import { iptablesStep } from './iptables.js';
import { kubeletStep } from './kubelet.js';
import { STEP_LIST, type StepName } from './list.js';
import { modulesStep } from './modules.js';
import { packagesStep } from '../os-packages/packages-step.js';
import { preloadStep } from './preload.js';
import { selinuxStep } from './selinux.js';
import { shellStep } from './shell.js';
import { swapStep } from './swap.js';
import { sysctlStep } from './sysctl.js';

/** Each step's code by its name (every name of steps/list.ts has one: the type says so). */
const STEP_CODE: Readonly<Record<StepName, StepCode>> = {
  packages: packagesStep,
  modules: modulesStep,
  sysctl: sysctlStep,
  swap: swapStep,
  selinux: selinuxStep,
  firewall: firewallStep,
  iptables: iptablesStep,
  dns: dnsStep,
  binaries: binariesStep,
  kubelet: kubeletStep,
  containerd: containerdStep,
  preload: preloadStep,
  shell: shellStep,
};

/** Every step with its code, in the order apply runs them (steps/list.ts). */
export const STEPS: readonly Step[] = STEP_LIST.map(({ name, summary }) => ({ name, summary, plan: STEP_CODE[name].plan }));

export { STEP_NAMES } from './list.js';
