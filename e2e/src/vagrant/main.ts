/**
 * The Vagrant driver: the trip (trip/steps.ts) across real VMs
 * (e2e/vagrant/Vagrantfile), every command run with zx on the host: on a VM
 * through `vagrant ssh NAME -c 'sudo bash -euo pipefail -s'` (the command on
 * stdin), carries through the host over `ssh -F .carry/ssh-config` (binary
 * safe: no terminal in between). Run from e2e/vagrant (run.sh does).
 *
 *   node --import tsx ../src/vagrant/main.ts [--dry-run] [--json]
 *
 * Settings, read by the Vagrantfile too: AG_BOX (fedora|ubuntu), AG_PROVIDER,
 * AG_HA=1 (three control planes behind a load balancer), AG_WORKERS (1),
 * AG_LAB_NET (192.168.56), AG_SKIP_UP=1 (the VMs are up already).
 */
import { parseArgs } from 'node:util';
import { $ } from 'zx';
import { tripSteps } from '../trip/steps.js';
import { formatPlan, PRELUDE, vagrantPlan, type PlannedCommand } from './plan.js';
import { vagrantOptionsFromEnv } from './options.js';
import { vagrantWorld } from '../trip/world.js';

const say = (line = ''): boolean => process.stderr.write(`${line}\n`);

async function runCommand(entry: PlannedCommand): Promise<void> {
  if (entry.machine === 'host') await $({ stdio: ['inherit', 'inherit', 'inherit'] })`bash -euo pipefail -c ${entry.command}`;
  else await $({ input: `${PRELUDE}\n${entry.command}\n`, stdio: ['pipe', 'inherit', 'inherit'] })`vagrant ssh ${entry.machine} -c ${'sudo bash -euo pipefail -s'}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) {
    say('run.sh [--dry-run [--json]]: the trip across Vagrant VMs; --dry-run prints every command per VM and runs nothing');
    return 0;
  }
  const options = vagrantOptionsFromEnv(process.env);
  const world = vagrantWorld(options);
  const steps = tripSteps(world, options.os);
  const plan = vagrantPlan(steps, world, { ...(options.provider ? { provider: options.provider } : {}), skipUp: options.skipUp }, options.labNet);
  if (values['dry-run']) {
    process.stdout.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan, steps).join('\n')}\n`);
    return 0;
  }
  $.verbose = false;
  const started = Date.now();
  const times: Array<[string, number]> = [];
  let current = '';
  let stepStarted = started;
  for (const entry of plan) {
    if (entry.step !== current) {
      if (current !== '') times.push([current, Date.now() - stepStarted]);
      current = entry.step;
      stepStarted = Date.now();
      say(`\n==> ${entry.step}: ${steps.find((s) => s.id === entry.step)?.title ?? ''}`);
    }
    say(`${entry.machine}$ ${entry.command}`);
    await runCommand(entry);
  }
  times.push([current, Date.now() - stepStarted]);
  say('\n== summary ==');
  for (const [step, ms] of times) say(`${step.padEnd(40)} ${(ms / 1000).toFixed(0).padStart(6)} s`);
  say(`${'total'.padEnd(40)} ${((Date.now() - started) / 1000).toFixed(0).padStart(6)} s`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    say(`vagrant run failed: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
