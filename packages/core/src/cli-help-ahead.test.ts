import type { Argv } from 'yargs';
import { describe, expect, it } from 'vitest';
import { runTool, type ToolDefinition } from './cli.js';
import { createTestIo } from './testing/io.js';

// yargs renders a command's help as the command starts, in case its handler fails later (cli.ts,
// skipHelpAhead): ag's commands run after parsing, so a run makes none, while --help still shows it.

interface UsageInternals {
  hasCachedHelpMessage(): boolean;
}

function demoTool(seen: Argv[]): ToolDefinition {
  return {
    name: 'ag-demo',
    version: '0.0.0-test',
    configure: (parser) => {
      seen.push(parser);
      return parser.command('run', 'do the thing', (y) => y.option('times', { type: 'number', describe: 'how often' }));
    },
    handlers: { run: async () => undefined },
  };
}

const usageOf = (parser: Argv): UsageInternals => (parser as unknown as { getInternalMethods(): { getUsageInstance(): UsageInternals } }).getInternalMethods().getUsageInstance();

describe('a command run renders no help', () => {
  it('runs the command without yargs making its help ahead', async () => {
    const seen: Argv[] = [];
    const io = createTestIo({ stdin: '' });
    expect(await runTool(demoTool(seen), ['run', '--times', '2'], io)).toBe(0);
    expect(seen).toHaveLength(1);
    expect(usageOf(seen[0]!).hasCachedHelpMessage()).toBe(false);
  });

  it("still shows the command's help for --help", async () => {
    const io = createTestIo({ stdin: '' });
    expect(await runTool(demoTool([]), ['run', '--help'], io)).toBe(0);
    expect(io.stdoutText()).toContain('--times');
    expect(io.stdoutText()).toContain('how often');
  });
});
