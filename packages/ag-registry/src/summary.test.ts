import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import { main } from './cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-registry-summary-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('ag-registry status for a person at a terminal', () => {
  it('says down in its first line, and why; the exit code is the same as in a pipe', async () => {
    const terminal = createTestIo({ stdoutIsTTY: true });
    const piped = createTestIo();
    const state = join(dir, 'never-started');
    expect(await main(['status', '--state-dir', state], terminal)).toBe(4);
    expect(await main(['status', '--state-dir', state], piped)).toBe(4);
    expect(terminal.stdoutText()).toMatch(new RegExp(`^ag-registry status: down\\n\\nThe document:\\n  registry  registry ${state}\\n  registry  down: no registry was started from ${state}`));
    expect(JSON.parse(piped.stdoutText())).toMatchObject({ registry: { status: { answering: false } } });
  });
});
