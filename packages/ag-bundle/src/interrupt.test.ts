import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTree, REPO as repo, run, tempDir, writeTree } from './test-helpers.js';

/**
 * A real process, killed with SIGKILL part-way: nothing it leaves may look
 * complete, and the next run starts clean.
 */
const BIG = 160 * 1024 * 1024;

let work: { path: string; cleanup: () => Promise<void> };

function agBundle(args: string[]): ResultPromise {
  return execa('node', ['--import', 'tsx', join(repo, 'packages/ag-bundle/src/bin.ts'), ...args], { cwd: repo, reject: false, stdin: 'ignore' });
}

/** Waits until `dir` holds an entry matching `pattern` (with some bytes written), then kills the child. */
async function killWhen(child: ResultPromise, dir: string, pattern: RegExp, written: (path: string) => Promise<boolean>): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const names = await readdir(dir).catch(() => [] as string[]);
    const match = names.find((name) => pattern.test(name));
    if (match !== undefined && (await written(join(dir, match)))) {
      child.kill('SIGKILL');
      await child;
      return match;
    }
    if (child.exitCode !== null) throw new Error(`the child finished before it could be killed: ${String((await child).stderr)}`);
    await sleep(5);
  }
  child.kill('SIGKILL');
  throw new Error('timed out waiting for the child to start writing');
}

beforeAll(async () => {
  work = await tempDir('ag-bundle-kill-');
  await writeTree(join(work.path, 'root'), { 'files/small.txt': 'small\n' });
  // Sparse: costs no disk to read, but takes the pack a while to stream.
  await writeTree(join(work.path, 'root'), { 'files/disk.img': '' });
  await truncate(join(work.path, 'root', 'files', 'disk.img'), BIG);
});

afterAll(async () => {
  await work?.cleanup();
});

describe('a killed process', () => {
  it('pack: leaves only a marked temporary, no bundle and no SHA256SUMS; the next pack starts clean', async () => {
    const out = join(work.path, 'out');
    await writeTree(out, {});
    await execa('mkdir', ['-p', out]);
    const child = agBundle(['pack', '--dir', join(work.path, 'root'), '--out', join(out, 'bundle.tar'), '--no-tools', '--unsigned']);
    const temp = await killWhen(child, out, /^\.bundle\.tar\.ag-tmp-\d+-/, async (path) => (await stat(path)).size > 0);
    expect(await readdir(out)).toEqual([temp]);
    expect((await stat(join(out, temp))).size).toBeLessThan(BIG);
    expect(await listTree(join(work.path, 'root'))).toEqual(['files/disk.img', 'files/small.txt']);

    const again = await run(['pack', '--dir', join(work.path, 'root'), '--out', join(out, 'bundle.tar'), '--no-tools', '--unsigned']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('removed 1 leftover(s) of an interrupted pack');
    expect(await readdir(out)).toEqual(['bundle.tar']);
  });

  it('unpack: leaves DIR absent and only a marked temporary; the next unpack starts clean', async () => {
    const bundle = join(work.path, 'out', 'bundle.tar');
    const far = join(work.path, 'far');
    await execa('mkdir', ['-p', far]);
    const dir = join(far, 'ag');
    const child = agBundle(['unpack', bundle, '--dir', dir]);
    const temp = await killWhen(child, far, /^\.ag\.ag-tmp-\d+-/, async (path) => (await stat(join(path, 'files', 'disk.img')).catch(() => undefined)) !== undefined);
    expect(await readdir(far)).toEqual([temp]);
    expect(await listTree(dir)).toBeUndefined();

    const again = await run(['unpack', bundle, '--dir', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('removed 1 leftover(s) of an interrupted unpack');
    expect(await readdir(far)).toEqual(['ag']);
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir });
  });
});
