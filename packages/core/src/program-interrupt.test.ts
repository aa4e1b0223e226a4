import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processEnded } from './testing/process.js';

const here = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = join(here, '..', '..', '..');


describe('runProgram and startProgram when ag is interrupted', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-program-interrupt-'));
    const program = JSON.stringify(join(here, 'program.ts'));
    const child = `'sh', ['-c', 'echo "child $$" >&2; exec sleep 300'], { env: { PATH: '/usr/bin:/bin' }`;
    // What a tool does: run a long child through runProgram, its stderr copied to ours;
    // or start one alongside it (startProgram, not detached), its output on our stderr.
    // The signal is sent only once ag's handler that ends the child is in place (execa installs it
    // just after the spawn): runProgram's copy of the child's line runs on ag's event loop, so after
    // it; startProgram's child writes to our stderr itself, maybe before it (a failure seen under
    // load in CI), so that script says `ready` once startProgram has returned.
    await writeFile(join(dir, 'runProgram.mts'), `import { runProgram } from ${program};\nawait runProgram(${child}, stderr: process.stderr });\n`);
    await writeFile(
      join(dir, 'startProgram.mts'),
      `import { startProgram } from ${program};\nconst started = await startProgram(${child} });\nprocess.stderr.write('ready\\n');\nawait started.ended;\n`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['runProgram', 'SIGTERM'],
    ['runProgram', 'SIGINT'],
    ['startProgram', 'SIGTERM'],
    ['startProgram', 'SIGINT'],
  ] as const)('%s: ends the child (a real sleep) when the ag process gets %s, and dies of that signal', async (how, signal) => {
    const ag = execa(process.execPath, ['--import', 'tsx', join(dir, `${how}.mts`)], { cwd: REPO_ROOT, reject: false, stdin: 'ignore' });
    const pid = await new Promise<number>((resolvePid, reject) => {
      let seen = '';
      ag.stderr.on('data', (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        const match = /child (\d+)/.exec(seen);
        if (match && (how === 'runProgram' || /^ready$/m.test(seen))) resolvePid(Number(match[1]));
      });
      void ag.then((result) => reject(new Error(`the ag process ended before its child started:\n${String(result.stderr)}`)));
    });
    expect(await processEnded(pid)).toBe(false);

    // Its exit, not the end of its output: a sleep left behind holds the stderr pipe open.
    const exited = new Promise<string | null>((resolveExit) => ag.once('exit', (_code, diedOf) => resolveExit(diedOf)));
    ag.kill(signal);
    expect(await exited).toBe(signal);
    let gone = false;
    for (let tries = 0; tries < 50 && !gone; tries += 1) {
      gone = await processEnded(pid);
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    if (!gone) process.kill(pid, 'SIGKILL'); // leave nothing behind when the assertion below fails
    await ag;
    expect(gone, `sleep (pid ${pid}) outlived the ag process`).toBe(true);
  });
});
