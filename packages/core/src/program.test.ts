import { closeSync, openSync } from 'node:fs';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { findProgram, formatCommand, parseDuration, pollUntil, runProgram, startProgram } from './program.js';

function sink(): PassThrough & { text(): string } {
  const stream = new PassThrough() as PassThrough & { text(): string };
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.text = () => Buffer.concat(chunks).toString('utf8');
  return stream;
}

describe('runProgram', () => {
  it('captures stdout, copies stderr (and with streamStdout, stdout) to our stderr, and feeds input', async () => {
    const stderr = sink();
    const result = await runProgram('sh', ['-c', 'cat; echo warn >&2'], { env: { PATH: '/usr/bin:/bin' }, stderr, input: 'hello\n' });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'hello\n', stderr: 'warn\n' });
    expect(stderr.text()).toBe('warn\n');
  });

  it('fails with the command, its exit code and what it said (exit 7), or says it is not installed (exit 5)', async () => {
    const stderr = sink();
    await expect(runProgram('sh', ['-c', 'echo "no such thing" >&2; exit 3'], { env: { PATH: '/usr/bin:/bin' }, stderr })).rejects.toMatchObject({
      kind: 'external',
      message: expect.stringMatching(/^sh -c 'echo "no such thing" >&2; exit 3' failed with exit code 3:\nno such thing/),
    });
    await expect(runProgram('ag-no-such-program', [], { env: { PATH: '/nonexistent' }, stderr })).rejects.toMatchObject({ kind: 'missing' });
  });

  it('feeds a stream to stdin (ctr images import -), and without a stderr to copy to only captures', async () => {
    const result = await runProgram('sh', ['-c', 'wc -c; echo said >&2'], { env: { PATH: '/usr/bin:/bin' }, input: Readable.from([Buffer.alloc(70_000, 1), Buffer.alloc(30_000, 2)]) });
    expect(result).toMatchObject({ exitCode: 0, stderr: 'said\n' });
    expect(result.stdout.trim()).toBe('100000');
  });

  it('ends a child that outlives timeoutMs and says so; a missing program gets the caller\'s hint', async () => {
    const stderr = sink();
    const started = Date.now();
    await expect(runProgram('sleep', ['30'], { env: { PATH: '/usr/bin:/bin' }, stderr, timeoutMs: 300 })).rejects.toMatchObject({
      kind: 'external',
      message: expect.stringMatching(/^sleep 30 did not finish within 0.3 s/),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(runProgram('ag-no-such-ctr', [], { env: { PATH: '/nonexistent' }, missingHint: 'install containerd (it ships ctr)' })).rejects.toMatchObject({
      kind: 'missing',
      hint: 'install containerd (it ships ctr)',
    });
  });
});

describe('findProgram', () => {
  it('prefers the installed bundle copy, then PATH, then the copy inside the bundle', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-program-'));
    const script = join(dir, 'kubectl');
    await writeFile(script, '#!/bin/sh\n');
    await chmod(script, 0o755);
    expect(await findProgram('kubectl', { env: { PATH: '/nonexistent' }, installedPaths: ['/kubectl'], hostRoot: dir })).toBe(script);
    expect(await findProgram('kubectl', { env: { PATH: dir }, installedPaths: ['/nonexistent/kubectl'] })).toBe(script);
    expect(await findProgram('kubectl', { env: { PATH: '' }, bundlePaths: [script] })).toBe(script);
    await expect(findProgram('kubectl', { env: { PATH: '' } })).rejects.toMatchObject({ kind: 'missing' });
  });
});

describe('helpers', () => {
  it('parses durations and quotes commands only where a shell needs it', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
    expect(formatCommand('kubectl', ['get', 'cm', '-o', 'jsonpath={.data}'])).toBe("kubectl get cm -o 'jsonpath={.data}'");
  });

  it('pollUntil returns the first value, or times out naming what it waited for and the last reason', async () => {
    let n = 0;
    await expect(pollUntil(async () => (++n >= 3 ? n : undefined), { what: 'x', timeoutMs: 1000, intervalMs: 1 })).resolves.toBe(3);
    await expect(
      pollUntil(async (note) => note('still refused'), { what: 'the API server', timeoutMs: 20, intervalMs: 5 }),
    ).rejects.toMatchObject({ kind: 'external', message: expect.stringContaining('waiting for the API server (last: still refused)') });
  });
});

describe('startProgram', () => {
  const env = { PATH: '/usr/bin:/bin' };

  it('starts a program alongside us: its output to the given descriptor (never our stdout), how it ended', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-start-program-'));
    const log = join(dir, 'log');
    const fd = openSync(log, 'a');
    try {
      const started = await startProgram('sh', ['-c', 'echo out; echo err >&2; exit 4'], { env, outputFd: fd });
      expect(started).toMatchObject({ pid: expect.any(Number), command: `sh -c 'echo out; echo err >&2; exit 4'` });
      expect(await started.ended).toEqual({ exitCode: 4, signal: undefined, how: 'exited with code 4' });
    } finally {
      closeSync(fd);
    }
    expect(await readFile(log, 'utf8')).toBe('out\nerr\n');
  });

  it('says a missing program is not installed (exit 5), with the caller\'s hint', async () => {
    await expect(startProgram('ag-no-such-registry', [], { env: { PATH: '/nonexistent' }, missingHint: 'install docker-registry' })).rejects.toMatchObject({
      kind: 'missing',
      message: expect.stringContaining('ag-no-such-registry is not installed or not on PATH'),
      hint: 'install docker-registry',
    });
  });

  it('stop() sends SIGTERM, and SIGKILL after graceMs to a child that ignores SIGTERM', async () => {
    const polite = await startProgram('sleep', ['30'], { env });
    polite.stop();
    expect(await polite.ended).toMatchObject({ signal: 'SIGTERM', how: 'killed by SIGTERM' });
    // An ignored signal stays ignored across exec: sleep ignores SIGTERM too. The marker file says the trap is
    // set: a SIGTERM sent before that would end sh itself, which is not what this test is about.
    const ready = join(await mkdtemp(join(tmpdir(), 'ag-start-program-')), 'trapped');
    const stubborn = await startProgram('sh', ['-c', `trap '' TERM; : > '${ready}'; exec sleep 30`], { env, graceMs: 300 });
    await pollUntil(async () => (await readFile(ready).then(() => true, () => false)) || undefined, { timeoutMs: 10_000, intervalMs: 10, what: 'the shell to set its trap' });
    const asked = Date.now();
    stubborn.stop();
    expect(await stubborn.ended).toMatchObject({ signal: 'SIGKILL' });
    expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
    expect(Date.now() - asked).toBeLessThan(10_000);
  });

  it('detached: the child leads its own session (a daemon that outlives us)', async () => {
    const daemon = await startProgram('sleep', ['30'], { env, detached: true, outputFd: 2 });
    try {
      const stat = await readFile(`/proc/${daemon.pid}/stat`, 'utf8');
      // proc(5): field 6 is the session id; after the last ')' come fields 3 onwards.
      const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      expect(session).toBe(daemon.pid);
      expect(session).not.toBe(Number((await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ')[3]));
    } finally {
      daemon.stop();
    }
    expect(await daemon.ended).toMatchObject({ signal: 'SIGTERM' });
  });
});
