/**
 * `ag-fetch download` onto a small disk: a real tmpfs (the tests run as
 * root), the fixture file host. It refuses before writing what cannot fit,
 * and when the disk fills part-way it says truthfully what it kept for the
 * next run, which resumes from there.
 */
import { partialPathFor, validateDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, unmountAllUnder, type FileServer } from '@ag/fixtures';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';

let work: string;
let host: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-space-'));
  const upstream = await populateUpstream(join(work, 'upstream'), { binarySize: 512 * 1024 });
  host = await startFileServer({ root: upstream.root });
});

afterAll(async () => {
  await host.close();
  await unmountAllUnder(work);
  await rm(work, { recursive: true, force: true });
});

afterEach(() => host.clearFaults());

async function run(argv: string[], stdin?: string) {
  const io = createTestIo({ stdin });
  const code = await main(argv[0] === 'download' ? [...argv, '--no-os-packages', '--concurrency', '1'] : argv, io);
  return { code, out: io.stdoutText(), stderr: io.stderrText() };
}

async function plan(): Promise<string> {
  const dir = await mkdtemp(join(work, 'plan-'));
  const { code, out, stderr } = await run(['plan', '--kubernetes-version', 'v1.27.3', '--os', 'fedora-37', '--cni', 'flannel@v0.22.0', '--mirror', host.url, '--dir', dir, '--image-list', 'table']);
  expect(code, stderr).toBe(0);
  return out;
}

/** A fresh tmpfs of `bytes` at a new directory under the work directory. */
async function smallDisk(name: string, bytes: number): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  return dir;
}

async function sha256sum(path: string): Promise<string> {
  return (await execa('sha256sum', [path])).stdout.split(' ')[0]!;
}

/** Every file under `dir`, hidden ones too. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('ag-fetch download on a small disk', () => {
  it('refuses before writing anything (exit 6) when the files whose sizes it knows cannot fit', async () => {
    const full = await mkdtemp(join(work, 'full-'));
    const fetched = await run(['download', '--dir', full], await plan());
    expect(fetched.code, fetched.stderr).toBe(0);
    const files = validateDocument(JSON.parse(fetched.out), 'stdout').fetch!.files;
    const total = files.reduce((sum, file) => sum + file.size!, 0);

    const disk = await smallDisk('known', Math.floor(total / 2));
    const result = await run(['download', '--dir', join(disk, 'bundle')], fetched.out);
    expect(result.code, result.stderr).toBe(6);
    expect(result.stderr).toContain(`downloading ${files.length} file(s) of known size`);
    expect(result.stderr).toContain('nothing was written');
    expect(await readdir(disk)).toEqual([]);
  });

  it('claims room as each server says how long its file is: one that would not fit is refused and leaves nothing', async () => {
    // 1.5 MiB: the small files fit, no 512 KiB binary does with the margin kept free.
    const disk = await smallDisk('claims', 1536 * 1024);
    const result = await run(['download', '--dir', disk], await plan());
    expect(result.code, result.stderr).toBe(6);
    expect(result.stderr).toMatch(/kubelet: downloading kubelet \(\d+ bytes to write\): .* has \d+ bytes free; \d+ are needed/);
    expect(result.stderr).toContain('nothing of kubelet was kept');
    expect(result.stderr).toMatch(/the \d+ file\(s\) that finished are verified in place/);
    const left = await filesUnder(disk);
    expect(left.filter((path) => path.includes('.ag-tmp-'))).toEqual([]);
    expect(left.some((path) => path.endsWith('kube-flannel.yml'))).toBe(true);
  });

  it('a disk that fills mid-file (no Content-Length to check first): says where it kept the partial file, and the next run resumes from it', async () => {
    host.addFault({ path: '/*', noLength: true });
    const disk = await smallDisk('fills', 1536 * 1024);
    const planned = await plan();
    const result = await run(['download', '--dir', disk], planned);
    expect(result.code, result.stderr).toBe(6);
    expect(result.stderr).toContain('the disk is full');
    expect(result.stderr).not.toContain('nothing half-written was kept');
    const kept = /(\d+) bytes kept in (\S+) to resume from/.exec(result.stderr);
    expect(kept, result.stderr).not.toBeNull();
    const [, bytes, partial] = kept!;
    expect((await stat(partial!)).size).toBe(Number(bytes));
    // Only that partial file is left unfinished: no empty ones for files that never got a byte.
    expect((await filesUnder(disk)).filter((path) => path.includes('.ag-tmp-'))).toEqual([partial]);
    // What is in place is whole: a write the full disk cut short never passes for a finished file.
    const inPlace = validateDocument(JSON.parse(planned), 'plan').fetch!.files.filter((file) => existsSync(join(disk, file.path)));
    expect(inPlace.length).toBeGreaterThan(0);
    for (const file of inPlace) expect(await sha256sum(join(disk, file.path)), file.path).toBe(file.sha256);

    await execa('mount', ['-o', 'remount,size=16m', disk]);
    host.clearFaults();
    const again = await run(['download', '--dir', disk], planned);
    expect(again.code, again.stderr).toBe(0);
    const dest = partial!.replace(/\/\.([^/]+)\.ag-tmp-partial$/, '/$1');
    expect(partialPathFor(dest)).toBe(partial);
    expect(again.stderr).toContain(`resumed: ${dest.slice(disk.length + 1)}`);
    expect(existsSync(partial!)).toBe(false);
  });
});
