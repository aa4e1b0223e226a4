import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { main } from './cli.js';
import { STEP_NAMES } from './steps/index.js';
import { DEBIAN_12, writeBundle, writeTree } from './testing/node-roots.js';
import { run } from './testing/run.js';

const ONLY_SHELL = STEP_NAMES.filter((name) => name !== 'shell').flatMap((name) => ['--skip', name]);

describe('ag-nodeprep installs the man pages and completion the bundle carries', () => {
  let dir: string;
  let document: AgDocument;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-shell-'));
    const bundle = join(dir, 'bundle');
    document = await writeBundle(bundle);
    // What the build writes beside each tool and ag-bundle pack carries in tools/share/ (and lists in bundle.tools).
    expect(await main(['--write-shell-files', join(bundle, 'tools')], createTestIo())).toBe(0);
    const share = join(bundle, 'tools', 'share');
    const files = (await readdir(share, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    const tools = await Promise.all(
      files.map(async (file) => ({ name: relative(share, file), path: relative(bundle, file), ...(await sha256File(file)) })),
    );
    document = { ...document, bundle: { file: 'bundle.tar', size: 1, signed: false, tools: tools.map(({ name, path, sha256, size }) => ({ name, path, sha256, size })) } };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('plans them, installs them under --root, and a second apply changes nothing', async () => {
    const root = join(dir, 'debian');
    await writeTree(root, DEBIAN_12);
    const plan = await run(['plan', '--root', root, ...ONLY_SHELL], document);
    expect(plan.code, plan.stderr).toBe(0);
    const targets = plan.document!.nodeprep!.actions.filter((a) => a.step === 'shell').map((a) => `${a.action} ${a.target}`);
    expect(targets.sort()).toEqual([
      'install-file /etc/bash_completion.d/ag-nodeprep',
      'install-file /usr/local/share/zsh/site-functions/_ag-nodeprep',
      'install-file /usr/share/man/man1/ag-nodeprep.1',
    ]);

    const apply = await run(['apply', '--root', root, ...ONLY_SHELL], document);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.document!.nodeprep!.changes).toBe(3);
    const man = await readFile(join(root, 'usr/share/man/man1/ag-nodeprep.1'), 'utf8');
    expect(man).toContain('.TH AG\\-NODEPREP 1');
    expect(man).toContain('\\fB\\-\\-nameserver\\fR');
    const bash = await readFile(join(root, 'etc/bash_completion.d/ag-nodeprep'), 'utf8');
    expect(bash).toContain('complete -o filenames -F _ag_nodeprep ag-nodeprep');
    expect(await readFile(join(root, 'usr/local/share/zsh/site-functions/_ag-nodeprep'), 'utf8')).toMatch(/^#compdef ag-nodeprep\n/);

    const again = await run(['apply', '--root', root, ...ONLY_SHELL], document);
    expect(again.code, again.stderr).toBe(0);
    expect(again.document!.nodeprep!.changes).toBe(0);
  });

  it('does nothing without a bundle that carries them', async () => {
    const root = join(dir, 'plain');
    await writeTree(root, DEBIAN_12);
    const { bundle: _bundle, ...without } = document;
    const plan = await run(['plan', '--root', root, ...ONLY_SHELL], without as AgDocument);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.document!.nodeprep!.actions.filter((a) => a.step === 'shell')).toEqual([]);
  });
});
