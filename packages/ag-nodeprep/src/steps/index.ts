import type { Step } from '../context.js';
import { binariesStep } from './binaries.js';
import { containerdStep } from './containerd.js';
import { dnsStep } from './dns.js';
import { firewallStep } from './firewall.js';
import { iptablesStep } from './iptables.js';
import { kubeletStep } from './kubelet.js';
import { modulesStep } from './modules.js';
import { packagesStep } from '../os-packages/packages-step.js';
import { preloadStep } from './preload.js';
import { selinuxStep } from './selinux.js';
import { shellStep } from './shell.js';
import { swapStep } from './swap.js';
import { sysctlStep } from './sysctl.js';

/**
 * Every step, in the order apply runs them. Adding a step is one entry here
 * (a `Step`: name, summary, plan); its name becomes a `--skip` value and a
 * line of --help on its own.
 */
export const STEPS: readonly Step[] = [
  // First: later steps need what it installs (containerd, conntrack, socat,
  // iptables-legacy, container-selinux) and look for it only when they run.
  packagesStep,
  modulesStep,
  sysctlStep,
  swapStep,
  selinuxStep,
  firewallStep,
  iptablesStep,
  dnsStep,
  binariesStep,
  kubeletStep,
  containerdStep,
  preloadStep,
  shellStep,
];

export const STEP_NAMES: readonly string[] = STEPS.map((step) => step.name);
