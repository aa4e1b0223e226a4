import { describe, expect, it } from 'vitest';
import { runTool, type ToolDefinition } from '../cli.js';
import { newDocument } from '../document/index.js';
import type { AgDocument } from '../document/schema.js';
import { createTestIo } from '../testing/io.js';
import { outputMode } from './mode.js';
import { summarise } from './summary.js';

const DOCUMENT: AgDocument = {
  ...newDocument(),
  root: '/srv/ag',
  images: { layout: 'images', platforms: ['linux/amd64'], images: [] },
  bundle: { file: 'bundle.tar', size: 4096, signed: false, contents: { files: 7, bytes: 2048, categories: {} } },
};

/** A tool with one stage that passes a fixed document on, as every ag stage does. */
const tool: ToolDefinition = {
  name: 'ag-test',
  version: '0',
  configure: (parser) => parser.command('stage', 'a stage'),
  handlers: {
    stage: async ({ emit }) => {
      emit(DOCUMENT);
    },
  },
  summaries: { stage: summarise('ag-test stage: done', { sections: ['bundle'], details: () => ['one detail'] }) },
};

async function run(argv: string[], terminal: boolean): Promise<string> {
  const io = createTestIo({ stdin: '', stdoutIsTTY: terminal });
  expect(await runTool(tool, argv, io)).toBe(0);
  return io.stdoutText();
}

describe('--output', () => {
  it('defaults to a summary on a terminal and the document in a pipe', () => {
    expect(outputMode({}, { isTTY: true } as never)).toBe('table');
    expect(outputMode({}, {} as never)).toBe('json');
    expect(outputMode({ output: 'none' }, { isTTY: true } as never)).toBe('none');
    expect(outputMode({ output: 'json' }, { isTTY: true } as never)).toBe('json');
  });

  it('in a pipe, writes the document exactly as before (one line of JSON)', async () => {
    expect(await run(['stage'], false)).toBe(`${JSON.stringify(DOCUMENT)}\n`);
    expect(await run(['stage', '--pretty'], false)).toBe(`${JSON.stringify(DOCUMENT, null, 2)}\n`);
  });

  it('on a terminal, writes the stage summary: its title, its details, a line per section, the stage section first', async () => {
    const text = await run(['stage'], true);
    expect(text).toBe(
      [
        'ag-test stage: done',
        '  one detail',
        '',
        'The document:',
        '  bundle    bundle.tar: 4.0 KiB, unsigned, 7 files (2.0 KiB)',
        '  images    0 images in images (linux/amd64)',
        '',
        'In a pipe or with --output json this stage writes the document instead.',
        '',
      ].join('\n'),
    );
  });

  it('--output chooses explicitly: json on a terminal, table in a pipe, none writes nothing', async () => {
    expect(JSON.parse(await run(['stage', '--output', 'json'], true))).toEqual(DOCUMENT);
    expect(await run(['stage', '-o', 'table'], false)).toMatch(/^ag-test stage: done\n/);
    expect(await run(['stage', '--output', 'none'], true)).toBe('');
    expect(await run(['stage', '--output', 'none'], false)).toBe('');
  });

  it('refuses an unknown mode as a usage error (exit 2)', async () => {
    const io = createTestIo({ stdin: '' });
    expect(await runTool(tool, ['stage', '--output', 'yaml'], io)).toBe(2);
    expect(io.stdoutText()).toBe('');
  });

  it('a stage without a summary of its own gets one line per section', async () => {
    const io = createTestIo({ stdin: '', stdoutIsTTY: true });
    expect(await runTool({ ...tool, summaries: {} }, ['stage'], io)).toBe(0);
    expect(io.stdoutText()).toMatch(/^ag-test stage: done\n\nThe document:\n {2}images {4}0 images in images/);
  });
});
