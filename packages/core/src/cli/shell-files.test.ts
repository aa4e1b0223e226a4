import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTool, toolSpec, type ToolDefinition } from '../cli.js';
import { createTestIo } from '../testing/io.js';
import { manPage } from './shell-files.js';
import { sharedOption } from './vocabulary.js';

const tool: ToolDefinition = {
  name: 'ag-demo',
  version: '1.2.3',
  configure: (parser) =>
    parser
      .usage('$0 <command> [options]\n\nA demo tool: it plans and applies.')
      .command('plan', 'show what would change', (y) => y.option('dir', sharedOption('dir')).option('mirror', sharedOption('mirror', undefined, { array: true })))
      .command('apply', 'change it', (y) => y.option('mode', { choices: ['fast', 'safe'] as const, describe: "how: [fast] or 'safe'" }).option('root', sharedOption('root', undefined, { default: '/' })))
      .command('secret', false)
      .example('$0 plan --dir bundle', 'plan it'),
  handlers: { plan: async () => undefined, apply: async () => undefined, secret: async () => undefined },
};

/** What bash offers for `words` (the last one being completed), from the script `ag-demo completion bash` prints. */
function bashOffers(script: string, words: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'ag-completion-'));
  writeFileSync(join(dir, 'ag-demo.bash'), script);
  const program = `source ${JSON.stringify(join(dir, 'ag-demo.bash'))}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _ag_demo; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['-c', program], { cwd: dir, encoding: 'utf8' }).split('\n').filter((line) => line !== '');
}

describe('ag-<tool> completion', () => {
  it('prints a bash script that completes commands, each command\'s flags and a flag\'s choices', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['completion', 'bash'], io)).toBe(0);
    const script = io.stdoutText();
    expect(bashOffers(script, ['ag-demo', ''])).toEqual(expect.arrayContaining(['plan', 'apply', 'completion', '--help']));
    expect(bashOffers(script, ['ag-demo', ''])).not.toContain('secret');
    expect(bashOffers(script, ['ag-demo', 'plan', '--mi'])).toEqual(['--mirror']);
    expect(bashOffers(script, ['ag-demo', 'apply', '--mode', ''])).toEqual(['fast', 'safe']);
    expect(bashOffers(script, ['ag-demo', 'apply', '--'])).toEqual(expect.arrayContaining(['--mode', '--root', '--log-format', '--pretty']));
    expect(bashOffers(script, ['ag-demo', 'apply', '--'])).not.toContain('--dir');
  });

  it('prints a zsh #compdef function describing each command and flag', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['completion', 'zsh'], io)).toBe(0);
    const script = io.stdoutText();
    expect(script.startsWith('#compdef ag-demo\n')).toBe(true);
    expect(script).toContain("'plan:show what would change'");
    // Brackets and quotes in a description cannot end the spec early.
    expect(script).toContain("'--mode[how\\: (fast) or '\\''safe'\\'']:value:(fast safe)'");
    expect(script).toContain("'*--mirror[fetch from a mirror]:value: '");
    // zsh itself reads it, and compinit takes it as the completion for ag-demo.
    const dir = mkdtempSync(join(tmpdir(), 'ag-zsh-'));
    writeFileSync(join(dir, '_ag-demo'), script);
    execFileSync('zsh', ['-n', join(dir, '_ag-demo')]);
    const loaded = execFileSync('zsh', ['-f', '-c', `fpath=(${dir} $fpath); autoload -Uz compinit && compinit -u -d ${dir}/.zcompdump; print -r -- $_comps[ag-demo]`], { encoding: 'utf8' });
    expect(loaded.trim()).toBe('_ag-demo');
    const bad = createTestIo();
    expect(await runTool(tool, ['completion', 'fish'], bad)).toBe(2);
  });
});

describe('the man page', () => {
  it('has every visible command and option, the examples, and nothing a roff request could take', () => {
    const page = manPage(toolSpec(tool));
    expect(page).toContain('.TH AG\\-DEMO 1 "" "ag\\-demo 1.2.3" "ag manual"');
    expect(page).toContain('ag\\-demo \\- A demo tool: it plans and applies.');
    for (const text of ['\\fBag\\-demo plan\\fR', '\\fBag\\-demo apply\\fR', '\\fB\\-\\-dir\\fR \\fIVALUE\\fR', '\\fB\\-\\-mode\\fR \\fIfast|safe\\fR', '\\fB\\-\\-mirror\\fR', '\\fB\\-\\-log\\-format\\fR', '[default: /]', '\\f(CWag\\-demo plan \\-\\-dir bundle\\fR'])
      expect(page).toContain(text);
    expect(page).not.toContain('secret');
    expect(page.split('\n').filter((line) => /^[.'](?!\\"|TH|SH|SS|TP|\\&)/.test(line))).toEqual([]);
  });
});
