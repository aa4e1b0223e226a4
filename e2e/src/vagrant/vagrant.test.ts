import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../tools.js';
import { tripSteps } from '../trip/steps.js';
import { vagrantWorld } from '../trip/world.js';
import type { PlannedCommand } from './plan.js';
import { vagrantOptionsFromEnv } from './options.js';

const VAGRANT_DIR = join(REPO_ROOT, 'e2e', 'vagrant');
const E2E_DIR = join(REPO_ROOT, 'e2e');

// tools/ci/debian-packages.txt installs both in CI; only a machine set up without them skips, and says so.
const haveVagrant = (await execa('sh', ['-c', 'command -v vagrant'], { reject: false })).exitCode === 0;
const haveShellcheck = (await execa('sh', ['-c', 'command -v shellcheck'], { reject: false })).exitCode === 0;
if (!haveVagrant) process.stderr.write('vagrant validate skipped: no vagrant on PATH (Debian package vagrant, in tools/ci/debian-packages.txt)\n');
if (!haveShellcheck) process.stderr.write('shellcheck skipped: no shellcheck on PATH (Debian package shellcheck, in tools/ci/debian-packages.txt)\n');

async function shellScripts(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await shellScripts(full)));
    else if (entry.name.endsWith('.sh')) out.push(full);
  }
  return out.sort();
}

const dryRun = async (env: Record<string, string>, json: boolean) =>
  execa(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'e2e', 'src', 'vagrant', 'main.ts'), '--dry-run', ...(json ? ['--json'] : [])], { cwd: VAGRANT_DIR, env, reject: false });

describe('the Vagrant driver plan (run.sh --dry-run)', () => {
  for (const env of [{}, { AG_HA: '1', AG_WORKERS: '2', AG_BOX: 'ubuntu', AG_PROVIDER: 'libvirt' }] as Array<Record<string, string>>) {
    it(`lists every step of the scenario, in order, each command on its VM (${JSON.stringify(env)})`, async () => {
      const result = await dryRun(env, true);
      expect(result.exitCode, result.stderr).toBe(0);
      const plan = JSON.parse(result.stdout) as PlannedCommand[];
      const options = vagrantOptionsFromEnv(env);
      const steps = tripSteps(vagrantWorld(options), options.os);
      // The same steps, in the same order.
      const planned = [...new Set(plan.map((p) => p.step).filter((s) => !s.startsWith('setup:')))];
      expect(planned).toEqual(steps.map((s) => s.id));
      // Each step's commands, verbatim and in order, on the machine the scenario names.
      for (const step of steps) {
        const machine = step.place.side === 'far' ? step.place.node.name : step.place.side === 'connected' ? 'connected' : 'host';
        const entries = plan.filter((p) => p.step === step.id && p.machine !== 'host');
        expect(entries.map((e) => e.command), step.id).toEqual(step.commands);
        for (const entry of entries) expect(entry.machine, step.id).toBe(machine);
        if (step.carry) expect(plan.filter((p) => p.step === step.id && p.machine === 'host').length, step.id).toBe(3 * step.carry.length);
      }
      expect(plan[0]).toEqual({ step: 'setup:up', machine: 'host', command: `vagrant up${env['AG_PROVIDER'] ? ` --provider=${env['AG_PROVIDER']}` : ''}` });
      // The human form shows the same: a header per step, the commands under it.
      const text = (await dryRun(env, false)).stdout;
      const headers = text.split('\n').filter((line) => line.startsWith('# ') && !line.startsWith('# setup:')).map((line) => line.slice(2).split(':')[0]);
      expect(headers).toEqual(steps.map((s) => s.id.split(':')[0]));
      expect(text).toContain('connected$ ag-fetch plan --site site.yaml --containerd upstream --dir bundle | ag-fetch download | ag-images pull | ag-bundle pack');
    });
  }

  it('refuses settings the Vagrantfile would refuse, naming them', async () => {
    const result = await dryRun({ AG_WORKERS: '0' }, false);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('AG_WORKERS=0: give a whole number of workers from 1 to 9');
  });
});

describe.skipIf(!haveVagrant)('vagrant validate (Debian 12 vagrant, offline)', () => {
  // Both boxes, both providers, and the HA topology once. libvirt's provider is a plugin (Debian's vagrant-libvirt)
  // that validates its own block offline; VirtualBox's needs VBoxManage (VirtualBox is not in Debian 12), so its
  // block is left out (--ignore-provider) and the rest of the Vagrantfile validated.
  const cases = [
    ...['fedora', 'ubuntu'].flatMap((box) => ['libvirt', 'virtualbox'].map((provider) => ({ AG_BOX: box, VAGRANT_DEFAULT_PROVIDER: provider, AG_HA: '0' }))),
    { AG_BOX: 'fedora', VAGRANT_DEFAULT_PROVIDER: 'libvirt', AG_HA: '1', AG_WORKERS: '2' },
  ];
  it.each(cases)('validates the Vagrantfile for %o', async (env) => {
    const flags = env.VAGRANT_DEFAULT_PROVIDER === 'libvirt' ? [] : ['--ignore-provider'];
    const result = await execa('vagrant', ['validate', ...flags], { cwd: VAGRANT_DIR, env: { ...env, VAGRANT_CHECKPOINT_DISABLE: '1' }, reject: false });
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('Vagrantfile validated successfully.');
  }, 60_000);

  it('refuses a box it does not know, naming the choices', async () => {
    const result = await execa('vagrant', ['validate', '--ignore-provider'], { cwd: VAGRANT_DIR, env: { AG_BOX: 'arch', VAGRANT_CHECKPOINT_DISABLE: '1' }, reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('AG_BOX must be one of fedora, ubuntu');
  }, 60_000);
});

describe.skipIf(!haveShellcheck)('shellcheck', () => {
  it('passes every shell script under e2e/', async () => {
    const scripts = await shellScripts(E2E_DIR);
    expect(scripts.map((s) => relative(E2E_DIR, s))).toEqual(expect.arrayContaining(['vagrant/run.sh', 'vagrant/steps/far-bootstrap.sh', 'vagrant/steps/check-dns.sh', 'vagrant/provision/airgap.sh']));
    const result = await execa('shellcheck', ['--external-sources', ...scripts], { reject: false });
    expect(result.exitCode, result.stdout).toBe(0);
  });
});
