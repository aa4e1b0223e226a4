import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { main } from './cli.js';
import { summarisePlan } from './summary.js';
import { FEDORA_37, writeBundle, writeTree } from './testing/node-roots.js';
import { run } from './testing/run.js';
import { hasTmux, runInTerminal, treeHash } from '@ag/fixtures';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'packages/ag-nodeprep/src/bin.ts');

describe('ag-nodeprep plan for a person', () => {
  let dir: string;
  let root: string;
  let document: AgDocument;
  let planned: AgDocument;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-summary-'));
    document = await writeBundle(join(dir, 'bundle'));
    root = join(dir, 'fedora');
    await writeTree(root, FEDORA_37);
    const result = await run(['plan', '--root', root, '--nameserver', '10.0.0.53'], document);
    expect(result.code, result.stderr).toBe(0);
    planned = result.document!;
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('phrases each action as the change it makes, with the diff of each file', () => {
    const byTarget = (target: string) => planned.nodeprep!.actions.find((a) => a.target === target)!;
    expect(byTarget('/etc/modules-load.d/k8s.conf').change).toBe('create /etc/modules-load.d/k8s.conf');
    expect(byTarget('/etc/containerd/config.toml').change).toBe('change /etc/containerd/config.toml');
    expect(byTarget('systemd-resolved.service').change).toBe('disable systemd-resolved.service');
    expect(byTarget('/etc/resolv.conf').change).toBe('replace the link /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf with a file');
    expect(byTarget('/etc/systemd/system/swap.target').change).toBe('mask swap.target (/etc/systemd/system/swap.target -> /dev/null)');
    expect(byTarget('/usr/local/bin/kubeadm').change).toBe('install /usr/local/bin/kubeadm (from files/kubeadm)');
    expect(byTarget('/opt/cni/bin').change).toBe('install bridge, host-local, loopback, portmap into /opt/cni/bin (from files/cni-plugins-linux-amd64-v1.3.0.tgz)');
    // No fault phrasing in what plan says it will do.
    for (const action of planned.nodeprep!.actions) expect(action.change ?? '').not.toMatch(/is missing|is not|differs/);
    // The diff is the file's own: fstab's swap line commented out, in diff -u form.
    expect(byTarget('/etc/fstab').diff).toBe(
      [
        '--- /etc/fstab',
        '+++ /etc/fstab',
        '@@ -1,3 +1,3 @@',
        ' UUID=1111-aaaa /     xfs  defaults 0 0',
        ' UUID=2222-bbbb /boot xfs  defaults 0 0',
        '-UUID=3333-cccc none  swap defaults 0 0',
        '+# ag-nodeprep (swap off): UUID=3333-cccc none  swap defaults 0 0',
        '',
      ].join('\n'),
    );
  });

  it('summarisePlan lists the changes by step, each file\'s diff, and the counts', () => {
    const text = summarisePlan(planned);
    const section = planned.nodeprep!;
    expect(text.startsWith(`ag-nodeprep plan: Fedora Linux 37 (Server Edition) at ${root}\n\n`)).toBe(true);
    const modules = section.actions.find((a) => a.target === '/etc/modules-load.d/k8s.conf')!;
    expect(text).toContain(
      ['  modules', '    + create /etc/modules-load.d/k8s.conf', '        --- /dev/null', '        +++ /etc/modules-load.d/k8s.conf', `        @@ -0,0 +1,4 @@`, ...modules.content!.trimEnd().split('\n').map((l) => `        +${l}`), ''].join('\n'),
    );
    expect(text).toContain('    ~ change /etc/fstab\n        --- /etc/fstab\n');
    expect(text).toContain('        -UUID=3333-cccc none  swap defaults 0 0\n        +# ag-nodeprep (swap off): UUID=3333-cccc none  swap defaults 0 0\n');
    expect(text).toContain('  dns\n');
    expect(text).toContain('    - disable systemd-resolved.service\n');
    expect(text).toContain('    + install /usr/local/bin/kubelet (from files/kubelet)\n');
    // Every planned change is listed once, in the order apply makes them.
    const listed = [...text.matchAll(/^ {4}[+~\->?] (.*)$/gm)].map((m) => m[1]);
    expect(listed).toEqual(section.actions.filter((a) => a.status === 'planned').map((a) => a.change));
    const planned_ = section.actions.filter((a) => a.status === 'planned').length;
    const unchanged = section.actions.filter((a) => a.status === 'unchanged').length;
    const notRun = section.actions.filter((a) => a.status === 'skipped' && a.hostOnly).length;
    expect(notRun).toBeGreaterThan(0);
    expect(text).toContain(`\nPlanned: ${planned_} to change, ${unchanged} already as wanted, ${notRun} host command(s) not run with --root.\nNothing was changed; ag-nodeprep apply (same options) makes these changes.\n`);
  });

  it('on a terminal, plan prints the summary instead of the document, and still changes nothing', async () => {
    const before = await treeHash(root);
    const io = createTestIo({ stdin: JSON.stringify(document) });
    (io.stdout as { isTTY?: boolean }).isTTY = true;
    expect(await main(['plan', '--root', root, '--nameserver', '10.0.0.53'], io)).toBe(0);
    expect(io.stdoutText()).toBe(summarisePlan(planned));
    expect(await treeHash(root)).toBe(before);
  });

  it('after apply, a second plan says there is nothing to change', async () => {
    const copy = join(dir, 'fedora-applied');
    await writeTree(copy, FEDORA_37);
    expect((await run(['apply', '--root', copy, '--nameserver', '10.0.0.53'], document)).code).toBe(0);
    const again = await run(['plan', '--root', copy, '--nameserver', '10.0.0.53'], document);
    const text = summarisePlan(again.document!);
    expect(text).toContain('  No changes: the node is already as ag-nodeprep would leave it.\n');
    expect(text).toMatch(/\nPlanned: 0 to change, \d+ already as wanted/);
  });

  it.skipIf(!hasTmux)('in a real terminal (tmux), plan shows the plan and a pipe still gets the document', async () => {
    const input = join(dir, 'document.json');
    const piped = join(dir, 'piped.json');
    await writeFile(input, JSON.stringify(document));
    const command = `node --import tsx ${BIN} plan --root ${root} --nameserver 10.0.0.53 < ${input}; echo "exit=$?"; node --import tsx ${BIN} plan --root ${root} --nameserver 10.0.0.53 < ${input} > ${piped}; echo "piped=$?"`;
    const { screen } = await runInTerminal(command, { cwd: REPO, until: /piped=\d+/, intervalMs: 100 });
    expect(screen).toMatch(/exit=0/);
    expect(screen).toMatch(/piped=0/);
    expect(screen).toContain(`ag-nodeprep plan: Fedora Linux 37 (Server Edition) at ${root}`);
    expect(screen).toContain('    + create /etc/modules-load.d/k8s.conf');
    expect(screen).toContain('        +# ag-nodeprep (swap off): UUID=3333-cccc none  swap defaults 0 0');
    expect(screen).toContain('    - disable systemd-resolved.service');
    expect(screen).toMatch(/Planned: \d+ to change, \d+ already as wanted/);
    expect(screen).not.toContain('"apiVersion"');
    const document_ = JSON.parse(await readFile(piped, 'utf8')) as AgDocument;
    expect(document_.nodeprep!.mode).toBe('plan');
    expect(summarisePlan(document_)).toBe(summarisePlan(planned));
  });
});
