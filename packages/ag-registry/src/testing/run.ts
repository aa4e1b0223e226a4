import { join } from 'node:path';
import { execa } from 'execa';
import { createTestIo } from '@ag/core/testing';
import { main } from '../cli.js';

/** Test helpers: the CLI in-process, and the programs tests check ag-registry against. */

/** Runs `ag-registry argv` in-process with `stdin` (undefined: a terminal) and `env` (PATH: which ctr it runs). */
export async function cli(argv: string[], stdin?: string, env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = createTestIo({ ...(stdin === undefined ? {} : { stdin }), ...(env === undefined ? {} : { env }) });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

/** Runs skopeo; a failure is returned (with what skopeo said), not thrown. */
export async function skopeo(args: string[]): Promise<{ ok: boolean; output: string }> {
  const result = await execa('skopeo', args, { reject: false, stripFinalNewline: false });
  return { ok: result.exitCode === 0, output: `${result.stdout}${result.stderr}` };
}

/** Runs ag-images as its own process (a CLI never imports another), with `stdin` as its document. */
export async function agImages(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = join(import.meta.dirname, '..', '..', '..', 'ag-images', 'src', 'bin.ts');
  const result = await execa(process.execPath, ['--import', 'tsx', bin, ...args], { input: stdin, reject: false, stripFinalNewline: false });
  return { code: result.exitCode ?? null, stdout: result.stdout, stderr: result.stderr };
}
