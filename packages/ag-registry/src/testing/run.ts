import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestIo } from '@ag/core/testing';
import { main } from '../cli.js';

/** Test helpers: the CLI in-process, and the programs tests check ag-registry against. */

export const run = promisify(execFile);

/** Runs `ag-registry argv` in-process with `stdin` (undefined: a terminal). */
export async function cli(argv: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = createTestIo(stdin === undefined ? {} : { stdin });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

/** Runs skopeo; a failure is returned (with what skopeo said), not thrown. */
export async function skopeo(args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('skopeo', args, { encoding: 'utf8', maxBuffer: 16 << 20 });
    return { ok: true, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}
