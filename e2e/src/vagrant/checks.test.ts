import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEP_SCRIPTS } from '../tools.js';

/**
 * The cluster checks of the Vagrant run (steps/check-*.sh) need a cluster,
 * which this machine cannot run; here they run against kubectl and systemctl
 * stand-ins that answer as a cluster with each of the first harness's
 * defects would, to show that each check catches its defect and passes a
 * healthy cluster.
 */
describe('the Vagrant cluster checks catch the defects they are for', () => {
  let dir: string;
  const stub = async (name: string, body: string): Promise<void> => {
    await writeFile(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`);
    await chmod(join(dir, 'bin', name), 0o755);
  };
  const check = (script: string, args: string[], env: Record<string, string> = {}) =>
    execa('sh', [join(STEP_SCRIPTS, script), ...args], { reject: false, env: { PATH: `${join(dir, 'bin')}:${process.env['PATH']}`, ...env } });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-checks-'));
    await mkdir(join(dir, 'bin'), { recursive: true });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("check-flannel: a node whose flannel pod is not Running fails the check, though the node is Ready (flanneld exited on the worker: its --iface was the control plane's address)", async () => {
    await stub('kubectl', 'case "$*" in *rollout*) exit 0 ;; *get\\ pods*) printf "airgap=Running\\nworker=%s\\n" "$WORKER_FLANNEL" ;; *) exit 0 ;; esac');
    const broken = await check('check-flannel.sh', ['airgap', 'worker'], { WORKER_FLANNEL: 'Failed' });
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain('check-flannel: no Running flannel pod on: worker');
    const healthy = await check('check-flannel.sh', ['airgap', 'worker'], { WORKER_FLANNEL: 'Running' });
    expect(healthy.exitCode, healthy.stderr).toBe(0);
    // A node with no flannel pod at all is caught too.
    expect((await check('check-flannel.sh', ['airgap', 'worker', 'worker2'], { WORKER_FLANNEL: 'Running' })).stderr).toContain('on: worker2');
  });

  it('check-dns: systemd-resolved running, a resolv.conf naming another server, or a public name resolving from a pod each fail it', async () => {
    const root = join(dir, 'root');
    await mkdir(join(root, 'etc', 'kubernetes'), { recursive: true });
    const site = '192.168.56.11';
    await writeFile(join(root, 'etc', 'kubernetes', 'resolv.conf'), `nameserver ${site}\n`);
    await stub('systemctl', '[ "$RESOLVED" = active ] && [ "$2" = --quiet ] && [ "$3" = systemd-resolved ]');
    await stub('kubectl', 'case "$*" in *get\\ pods*) echo podinfo-1 ;; *nslookup\\ kubernetes.default*) exit 0 ;; *nslookup\\ dl.k8s.io*) [ "$PUBLIC" = resolves ] ;; esac');
    const env = { AG_CHECK_ROOT: root, RESOLVED: 'inactive', PUBLIC: 'fails' };

    // The first harness: systemd-resolved kept running behind a plain resolv.conf.
    await writeFile(join(root, 'etc', 'resolv.conf'), `nameserver ${site}\n`);
    const resolved = await check('check-dns.sh', [site], { ...env, RESOLVED: 'active' });
    expect(resolved.exitCode).toBe(1);
    expect(resolved.stderr).toContain('systemd-resolved is running');

    await writeFile(join(root, 'etc', 'resolv.conf'), 'nameserver 127.0.0.53\n');
    const stub53 = await check('check-dns.sh', [site], env);
    expect(stub53.exitCode).toBe(1);
    expect(stub53.stderr).toContain(`/etc/resolv.conf names [127.0.0.53 ], not only the site resolver ${site}`);

    await writeFile(join(root, 'etc', 'resolv.conf'), `nameserver ${site}\n`);
    const leaks = await check('check-dns.sh', [site], { ...env, PUBLIC: 'resolves' });
    expect(leaks.exitCode).toBe(1);
    expect(leaks.stderr).toContain('dl.k8s.io resolved from a pod');

    const healthy = await check('check-dns.sh', [site], env);
    expect(healthy.exitCode, healthy.stderr).toBe(0);
    expect(healthy.stdout).toContain('a public name does not resolve from a pod');
  });
});
