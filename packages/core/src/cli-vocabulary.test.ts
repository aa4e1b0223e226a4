import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI_SPEC_FLAG } from './cli.js';
import type { OptionSpec, ToolSpec } from './cli/spec.js';
import { manPage } from './cli/shell-files.js';
import { RETIRED_FLAGS, retiredFlagsOf, rewriteRetiredFlags, SHARED_FLAGS } from './cli/vocabulary.js';

const repo = join(import.meta.dirname, '..', '..', '..');
const tools = readdirSync(join(repo, 'packages')).filter((name) => name.startsWith('ag-'));

/** Every tool's command line as its own parser defines it (`ag-<tool> --cli-spec`, from source). */
async function specs(): Promise<ToolSpec[]> {
  return Promise.all(
    tools.map(async (tool) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(repo, 'packages', tool, 'src', 'bin.ts'), CLI_SPEC_FLAG], { cwd: repo });
      return JSON.parse(stdout) as ToolSpec;
    }),
  );
}

/** Each option with where it is: `ag-fetch plan --dir`. */
function everyOption(spec: ToolSpec): Array<{ where: string; option: OptionSpec }> {
  return [
    ...spec.options.map((option) => ({ where: `${spec.name} --${option.name}`, option })),
    ...spec.commands.flatMap((command) => command.options.map((option) => ({ where: `${spec.name} ${command.name} --${option.name}`, option }))),
  ];
}

describe('one vocabulary', () => {
  let all: ToolSpec[];
  beforeAll(async () => {
    all = await specs();
  }, 120_000);

  it('reads every tool and every command', () => {
    expect(all.map((s) => s.name).sort()).toEqual(tools.map((t) => t).sort());
    const fetch = all.find((s) => s.name === 'ag-fetch')!;
    expect(fetch.commands.map((c) => c.name)).toEqual(expect.arrayContaining(['plan', 'download', 'check']));
    expect(fetch.commands.find((c) => c.name === 'plan')!.options.map((o) => o.name)).toEqual(expect.arrayContaining(['dir', 'mirror', 'kubernetes-version']));
  });

  it('gives a shared flag its one meaning wherever a tool has it', () => {
    const wrong: string[] = [];
    for (const spec of all) {
      for (const { where, option } of everyOption(spec)) {
        const shared = (SHARED_FLAGS as Record<string, { meaning: string }>)[option.name];
        if (shared !== undefined && !option.describe.startsWith(shared.meaning)) wrong.push(`${where}: "${option.describe}" does not start with "${shared.meaning}"`);
        // A value, never a switch: --no-credentials-file (none) is the only negation and needs no type of its own.
        if (shared !== undefined && option.type !== 'string') wrong.push(`${where}: a ${String(option.type)}, not a string`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('uses no retired name, and every shared flag somewhere', () => {
    const used = new Set<string>();
    const retired: string[] = [];
    for (const spec of all) {
      const retiredHere = new Set([...retiredFlagsOf(spec.name).map((r) => r.name), ...RETIRED_FLAGS.filter((r) => !(r.name in SHARED_FLAGS)).map((r) => r.name)]);
      for (const { where, option } of everyOption(spec)) {
        used.add(option.name);
        for (const name of [option.name, ...option.aliases]) if (retiredHere.has(name)) retired.push(where);
      }
    }
    expect(retired).toEqual([]);
    expect(Object.keys(SHARED_FLAGS).filter((name) => !used.has(name))).toEqual([]);
  });

  it('means the bundle root by --dir in every tool but the retired ag-registry one', () => {
    const dirs = all.flatMap((spec) => everyOption(spec).filter(({ option }) => option.name === 'dir'));
    expect(dirs.map((d) => d.where)).toEqual(expect.arrayContaining(['ag-fetch plan --dir', 'ag-bundle pack --dir', 'ag-nodeprep --dir', 'ag-flannel apply --dir']));
    expect(dirs.filter((d) => d.where.startsWith('ag-registry'))).toEqual([]);
  });

  it('makes a man page of each tool that has every visible command and option', () => {
    for (const spec of all) {
      const page = manPage(spec);
      for (const command of spec.commands.filter((c) => !c.hidden)) expect(page, `${spec.name} ${command.name}`).toContain(`\\fB${spec.name.replace(/-/g, '\\-')} ${command.name}`);
      for (const { where, option } of everyOption(spec).filter(({ option }) => !option.hidden)) {
        expect(page, where).toContain(option.positional ? `\\fI${option.name}\\fR` : `\\fB--${option.name}\\fR`.replace(/-/g, '\\-'));
      }
    }
  });

  it('lists every shared flag in the README table, with its meaning', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### One vocabulary'));
    const rows = new Map(
      [...section.matchAll(/^\| `--([a-z-]+)[^`]*` \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    for (const flag of Object.values(SHARED_FLAGS)) {
      expect(rows.get(flag.name), `README row for --${flag.name}`).toBeDefined();
      // The README may say more (which tools), never something else.
      expect(rows.get(flag.name)!.replace(/`/g, '').startsWith(flag.meaning), `--${flag.name}: ${rows.get(flag.name)}`).toBe(true);
    }
    expect([...rows.keys()].filter((name) => !(name in SHARED_FLAGS))).toEqual([]);
    for (const flag of RETIRED_FLAGS) expect(section, `README names the retired --${flag.name}`).toContain(`--${flag.name}`);
  });
});

describe('retired flags', () => {
  it('rewrites an old name to the new one, in every spelling, for the tools where it meant that', () => {
    expect(rewriteRetiredFlags('ag-kubeadm', ['init', '--host-root', '/r', '--dry-run'])).toEqual({
      argv: ['init', '--root', '/r', '--dry-run'],
      notices: ['--host-root is deprecated: use --root (same meaning; the old name will go)'],
    });
    expect(rewriteRetiredFlags('ag-registry', ['trust', '--ca=x.crt', '--no-credentials']).argv).toEqual(['trust', '--ca-file=x.crt', '--no-credentials-file']);
    expect(rewriteRetiredFlags('ag-registry', ['up', '--dir', 'd']).argv).toEqual(['up', '--state-dir', 'd']);
    // --dir is the bundle root everywhere else; a value after -- is not a flag.
    expect(rewriteRetiredFlags('ag-bundle', ['unpack', 'b.tar', '--dir', 'd'])).toEqual({ argv: ['unpack', 'b.tar', '--dir', 'd'], notices: [] });
    expect(rewriteRetiredFlags('ag-kubeadm', ['init', '--', '--host-root']).argv).toEqual(['init', '--', '--host-root']);
  });
});

describe('an empty pipe', () => {
  it('gets the same diagnosis from every tool, even where a document is optional (exit 2)', async () => {
    const commands = [['ag-images', 'pull'], ['ag-bundle', 'pack', '--out', '/nonexistent/b.tar'], ['ag-nodeprep', 'plan', '--root', '/nonexistent'], ['ag-fetch', 'download']];
    const results = await Promise.all(
      commands.map(async ([tool, ...args]) => {
        // A real shell pipe (a FIFO) whose first stage wrote nothing.
        const script = `true | "$0" --import tsx "$1" "\${@:2}"`;
        const run = await promisify(execFile)('bash', ['-c', script, process.execPath, join(repo, 'packages', tool!, 'src', 'bin.ts'), ...args], { cwd: repo }).then(
          () => ({ code: 0, stderr: '' }),
          (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
        );
        return { tool, ...run };
      }),
    );
    for (const { tool, code, stderr } of results) {
      expect(code, `${tool}: ${stderr}`).toBe(2);
      expect(stderr).toBe(`${tool}: error: no document on stdin: the stage before this one produced nothing — did it fail?\n${tool}: error: next: look at its error above; run pipelines with set -o pipefail, so that they stop at the first stage that fails\n`);
    }
  }, 120_000);
});
