import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from './errors.js';
import { AgError, ExitCode, VerificationError, withContext, type ExitCodeName } from './errors.js';

/** The README's "Exit codes (every tool)" table: code -> meaning. */
function readmeExitCodes(): Map<number, string> {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
  const section = readme.split(/^### Exit codes \(every tool\)$/m)[1]?.split(/^#/m)[0];
  if (section === undefined) throw new Error('README.md has no "### Exit codes (every tool)" section');
  const rows = [...section.matchAll(/^\| (\d+) \| (.+) \|$/gm)];
  return new Map(rows.map((row) => [Number(row[1]), row[2]!]));
}

/** What the README's row for each kind must speak of (so a renumbering or a swapped row is caught). */
const MEANING: Record<ExitCodeName, RegExp> = {
  ok: /^done$/,
  internal: /internal error/,
  usage: /usage error/,
  verification: /verification failed/,
  unreachable: /could not be reached/,
  missing: /missing/,
  system: /local system refused/,
  external: /a program ag ran/,
  credentials: /credentials refused/,
};

describe('errors', () => {
  it('keeps distinct, stable exit codes per kind', () => {
    const codes = Object.values(ExitCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(ExitCode).toMatchObject({ ok: 0, usage: 2, verification: 3, unreachable: 4, missing: 5 });
  });

  it('adds what was being done and keeps the kind', () => {
    const wrapped = withContext('pulling registry.k8s.io/pause:3.9', new VerificationError('digest mismatch', { hint: 'retry' }));
    expect(wrapped.message).toBe('pulling registry.k8s.io/pause:3.9: digest mismatch');
    expect(wrapped.exitCode).toBe(3);
    expect(wrapped.hint).toBe('retry');
    expect(wrapped.code).toBe('AG_VERIFICATION');
  });

  it('classifies a full disk and a refused connection', () => {
    const full = withContext('writing blob', Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
    expect(full).toBeInstanceOf(AgError);
    expect(full.kind).toBe('system');
    expect(full.hint).toMatch(/free disk space/);
    const refused = withContext('GET https://x/v2/', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(refused.exitCode).toBe(ExitCode.unreachable);
  });

  it('names an error\'s code once: after a message that lacks it, not after one that has it', async () => {
    // A real refused connection: Node's message already says ECONNREFUSED.
    const refused = await new Promise<Error>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => connect(port, '127.0.0.1').once('error', resolve));
      });
    });
    expect(errors.messageWithCode(refused)).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    // undici's socket errors do not name their code; nor does a wrapper whose cause has it.
    const socket = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(errors.messageWithCode(socket)).toBe('other side closed (UND_ERR_SOCKET)');
    expect(errors.messageWithCode(new Error('fetch failed', { cause: socket }))).toBe('fetch failed (UND_ERR_SOCKET)');
    expect(errors.messageWithCode(new Error('no code here'))).toBe('no code here');
  });

  it('has exactly the README table\'s codes, each row describing its kind', () => {
    const table = readmeExitCodes();
    expect([...table.keys()].sort((a, b) => a - b)).toEqual(Object.values(ExitCode).sort((a, b) => a - b));
    for (const [kind, code] of Object.entries(ExitCode) as Array<[ExitCodeName, number]>) {
      expect(table.get(code), `README row ${code} for ${kind}`).toMatch(MEANING[kind]);
    }
  });

  it('gives every error class an exit code of the README table, the one of its kind', () => {
    const table = readmeExitCodes();
    const classes = (Object.values(errors) as unknown[]).filter(
      (value): value is new (message: string) => AgError => typeof value === 'function' && value.prototype instanceof AgError,
    );
    expect(classes.length).toBeGreaterThanOrEqual(Object.keys(ExitCode).length - 2); // all but ok and internal have a class
    for (const ErrorClass of classes) {
      const error = new ErrorClass('x');
      expect(table.has(error.exitCode), `${ErrorClass.name} -> ${error.exitCode}`).toBe(true);
      expect(table.get(error.exitCode)).toMatch(MEANING[error.kind]);
      expect(error.code).toBe(`AG_${error.kind.toUpperCase()}`);
    }
    // And errors ag did not make itself land on a code of the table too.
    for (const code of ['ENOSPC', 'EACCES', 'ENOENT', 'ECONNREFUSED', 'EWHATEVER']) {
      expect(table.has(errors.toAgError(Object.assign(new Error(code), { code })).exitCode), code).toBe(true);
    }
  });
});
