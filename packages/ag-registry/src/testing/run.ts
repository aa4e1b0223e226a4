import { execFile } from 'node:child_process';
import { join } from 'node:path';
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

/** Runs ag-images as its own process (a CLI never imports another), with `stdin` as its document. */
export async function agImages(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = join(import.meta.dirname, '..', '..', '..', 'ag-images', 'src', 'bin.ts');
  const child = execFile(process.execPath, ['--import', 'tsx', bin, ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  child.stdin?.end(stdin);
  return new Promise((resolveExit) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: string) => (out += chunk));
    child.stderr?.on('data', (chunk: string) => (err += chunk));
    child.on('close', (code) => resolveExit({ code, stdout: out, stderr: err }));
  });
}

