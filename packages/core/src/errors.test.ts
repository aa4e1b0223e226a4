import { describe, expect, it } from 'vitest';
import { AgError, ExitCode, VerificationError, withContext } from './errors.js';

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
});
