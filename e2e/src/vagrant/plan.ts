import { WORKDIR, type Step } from '../trip/steps.js';
import { vagrantMachines, type World } from '../trip/world.js';

/**
 * The Vagrant driver's plan: every command it runs, per machine, in order,
 * made from the trip's steps (trip/steps.ts) and nothing else. `host` is the
 * machine running Vagrant, which plays the removable disk (.carry/).
 */
export interface PlannedCommand {
  /** The trip step this command belongs to, or `setup:…` for the VMs' own preparation. */
  step: string;
  /** `host`, or the VM (`vagrant ssh NAME`). */
  machine: string;
  command: string;
}

/** Where the host keeps what crosses, and the ssh configuration `vagrant ssh-config` writes (binary-safe copies). */
export const CARRY_DIR = '.carry';
export const SSH_CONFIG = `${CARRY_DIR}/ssh-config`;

/** What every command on a VM starts with: the working directory, the tools on PATH (the bundle's on the far side, the repository's on the connected VM). */
export const PRELUDE = [
  `mkdir -p ${WORKDIR.vagrant} && cd ${WORKDIR.vagrant}`,
  `export PATH=${WORKDIR.vagrant}/bin:/ag/node_modules/.bin:/usr/local/bin:$PATH KUBECONFIG=/etc/kubernetes/admin.conf`,
].join('\n');

export interface VagrantSetup {
  provider?: string;
  skipUp: boolean;
}

const ssh = (machine: string, remote: string): string => `ssh -F ${SSH_CONFIG} ${machine} '${remote}'`;

/** One carry through the host: `MACHINE:PATH` to `MACHINE:PATH`; a trailing slash marks a directory (sent as a tar stream). */
function carryCommands(step: string, from: string, to: string): PlannedCommand[] {
  const [fromMachine, fromPath] = from.split(/:(.*)/s) as [string, string];
  const [toMachine, toPath] = to.split(/:(.*)/s) as [string, string];
  const directory = fromPath.endsWith('/');
  // On the host by where it came from: a bundle carried to several nodes is kept there once.
  const onHost = `${CARRY_DIR}/${fromMachine}/${fromPath.replace(/\/$/, '')}${directory ? '.tar' : ''}`;
  const out: PlannedCommand[] = [{ step, machine: 'host', command: `mkdir -p $(dirname ${onHost})` }];
  const source = `${WORKDIR.vagrant}/${fromPath}`;
  if (fromMachine === 'repo') out.push({ step, machine: 'host', command: directory ? `tar -C ../../${fromPath} -cf ${onHost} .` : `cp ../../${fromPath} ${onHost}` });
  else out.push({ step, machine: 'host', command: directory ? `${ssh(fromMachine, `sudo tar -C ${source} -cf - .`)} > ${onHost}` : `${ssh(fromMachine, `sudo cat ${source}`)} > ${onHost}` });
  const target = `${WORKDIR.vagrant}/${toPath.replace(/\/$/, '')}`;
  out.push({
    step,
    machine: 'host',
    command: directory ? `${ssh(toMachine, `sudo mkdir -p ${target} && sudo tar -C ${target} -xf -`)} < ${onHost}` : `${ssh(toMachine, `sudo install -D -m 0644 /dev/stdin ${target}`)} < ${onHost}`,
  });
  return out;
}

/** Every command of the Vagrant run, in order: the VMs up, the trip's steps, each on its machine. */
export function vagrantPlan(steps: Step[], world: World, setup: VagrantSetup, labNet: string): PlannedCommand[] {
  const machines = vagrantMachines(labNet, world.topology).map((m) => m.name);
  const farMachines = [...world.topology.controlPlanes, ...world.topology.workers].map((m) => m.name);
  const plan: PlannedCommand[] = [];
  if (!setup.skipUp) plan.push({ step: 'setup:up', machine: 'host', command: `vagrant up${setup.provider ? ` --provider=${setup.provider}` : ''}` });
  plan.push({ step: 'setup:ssh-config', machine: 'host', command: `mkdir -p ${CARRY_DIR} && vagrant ssh-config ${machines.join(' ')} > ${SSH_CONFIG}` });
  for (const machine of farMachines) {
    // The black hole's counter when the run starts: steps/check-blackhole.sh compares against it.
    plan.push({ step: 'setup:blackhole', machine, command: 'mkdir -p /var/lib/ag-e2e && cat /sys/class/net/ag-blackhole/statistics/tx_packets > /var/lib/ag-e2e/tx-before' });
  }
  for (const step of steps) {
    if (step.local !== undefined && step.commands.length === 0) throw new Error(`step ${step.id} is the netns driver's own (${step.local}); the scenario gives the VMs nothing to run for it`);
    for (const [from, to] of step.carry ?? []) plan.push(...carryCommands(step.id, from, to));
    const machine = step.place.side === 'far' ? step.place.node.name : 'connected';
    for (const command of step.commands) plan.push({ step: step.id, machine, command });
  }
  return plan;
}

/** The plan as the dry run prints it: each step's header, then `MACHINE$ command` (continuation lines indented). */
export function formatPlan(plan: PlannedCommand[], steps: Step[]): string[] {
  const titles = new Map(steps.map((s) => [s.id, s.title]));
  const lines: string[] = [];
  let current = '';
  for (const entry of plan) {
    if (entry.step !== current) {
      current = entry.step;
      lines.push('', `# ${entry.step}${titles.has(entry.step) ? `: ${titles.get(entry.step)}` : ''}`);
    }
    const [first, ...rest] = entry.command.split('\n');
    lines.push(`${entry.machine}$ ${first}`, ...rest.map((l) => `    ${l}`));
  }
  return lines;
}
