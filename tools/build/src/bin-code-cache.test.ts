import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './executables.js';

const PACKAGES = join(REPO_ROOT, 'packages');
const SEA_MAIN = join(REPO_ROOT, 'tools', 'build', 'sea-main.cjs');

/** Runs `file` (a tool's CommonJS bundle) as bin/ag-<tool>.cjs does, saying on stderr what became of its code cache. */
async function runBuilt(file: string, args: string[]) {
  const bin = `${file}.bin.cjs`;
  await writeFile(bin, `require(${JSON.stringify(SEA_MAIN)}).runBuiltTool(${JSON.stringify(file)});\n`);
  return execa(process.execPath, [bin, ...args], { reject: false, env: { AG_DEBUG_CODE_CACHE: '1' } });
}

describe("the .mjs tools' start: bin/ag-<tool>.cjs runs dist/ag-<tool>.cjs with the code cache npm ci's build made", () => {
  let work: string;
  let tools: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ag-bin-code-cache-'));
    tools = (await readdir(PACKAGES)).filter((name) => name.startsWith('ag-')).sort();
  });
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it("uses every tool's cache, made by this node, and answers as the one-file .mjs does", async () => {
    for (const tool of tools) {
      const bin = await execa(process.execPath, [join(PACKAGES, tool, 'bin', `${tool}.cjs`), '--help'], { reject: false, env: { AG_DEBUG_CODE_CACHE: '1' } });
      expect(bin.stderr, tool).toBe(`ag: ${tool} code cache accepted`);
      const oneFile = await execa(process.execPath, [join(PACKAGES, tool, 'dist', `${tool}.mjs`), '--help'], { reject: false });
      expect(bin.stdout, tool).toBe(oneFile.stdout);
      expect(bin.exitCode, tool).toBe(oneFile.exitCode);
    }
  });

  it('runs code the cache holds that reaches past --help: a pull connects (undici, node:v8), under the cache', async () => {
    // On Node.js 20 a cached function loses import()'s loader; a built-in reached through import() failed here
    // with "A dynamic import callback was not specified" (the build now refuses such an import()).
    const closed = '127.0.0.1:1';
    const pull = await execa(process.execPath, [join(PACKAGES, 'ag-images', 'bin', 'ag-images.cjs'), 'pull', `${closed}/x:1`, '--layout', join(work, 'layout'), '--retries', '0', '--retry-window', '0s'], {
      reject: false,
      input: '',
      env: { AG_DEBUG_CODE_CACHE: '1' },
    });
    expect(pull.stderr).toContain('ag: ag-images code cache accepted');
    expect(pull.stderr).toContain(`connect ECONNREFUSED ${closed}`);
    expect(pull.exitCode).toBe(4);
  });

  it("takes ag-images' cache after a pull, and refuses to write one when the training run ends otherwise", async () => {
    const seaCodeCache = join(REPO_ROOT, 'tools', 'build', 'sea-code-cache.cjs');
    const pullCache = join(work, 'ag-images.cache');
    const helpCache = join(work, 'ag-images-help.cache');
    const bundle = join(PACKAGES, 'ag-images', 'dist', 'ag-images.cjs');
    // stdin a pipe no one closes, as a build's may be: the training pull reads its document from a file.
    const trained = await execa(process.execPath, [seaCodeCache, 'ag-images', bundle, pullCache], { reject: false, stdin: 'pipe', timeout: 60_000 });
    expect(trained.exitCode, trained.stderr).toBe(0);
    await execa(process.execPath, [seaCodeCache, 'ag-images', bundle, helpCache, '--', '--help']);
    // What the pull compiled beyond --help (its options, the trust store, undici's pools) is in the cache.
    expect((await stat(pullCache)).size).toBeGreaterThan((await stat(helpCache)).size * 1.3);

    // ag-flannel's code run as if it were ag-images: its pull is a usage error, not the unreachable registry expected.
    const wrong = join(work, 'wrong.cache');
    const refused = await execa(process.execPath, [seaCodeCache, 'ag-images', join(PACKAGES, 'ag-flannel', 'dist', 'ag-flannel.cjs'), wrong], { reject: false, timeout: 60_000 });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^ag-images pull 127\.0\.0\.1:\d+\/cache\/training:1 .* exited 2, not 4, making its code cache:\nag-flannel: error: unknown option/);
    await expect(stat(wrong)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads no package.json above the working directory (yargs guessed a version from it at every start)', async () => {
    // A FIFO with no writer: reading it blocks, as yargs' guess did (tools/build/bundle-bins.mjs, yargsNoVersionGuessPlugin).
    const cwd = join(work, 'fifo-cwd');
    await mkdir(cwd);
    await execa('mkfifo', [join(cwd, 'package.json')]);
    for (const tool of tools) {
      const version = await execa(process.execPath, [join(PACKAGES, tool, 'bin', `${tool}.cjs`), '--version'], { cwd, reject: false, timeout: 20_000 });
      expect(version.timedOut, tool).toBe(false);
      expect(version.stdout, tool).toMatch(/^0\.1\.0 \(Node\.js v/);
    }
  });

  it('compiles from source, with the same answer, when V8 rejects the cache or there is none', async () => {
    const file = join(work, 'ag-flannel.cjs');
    await copyFile(join(PACKAGES, 'ag-flannel', 'dist', 'ag-flannel.cjs'), file);
    const expected = await execa(process.execPath, [join(PACKAGES, 'ag-flannel', 'bin', 'ag-flannel.cjs'), '--version'], { reject: false });

    const none = await runBuilt(file, ['--version']);
    expect(none.stderr).toBe('ag: ag-flannel code cache not used');
    expect(none.stdout).toBe(expected.stdout);

    // What another Node.js's cache, or a damaged one, is to V8: bytes whose checks fail.
    await writeFile(`${file}.cache`, Buffer.alloc(4096, 7));
    const rejected = await runBuilt(file, ['--version']);
    expect(rejected.stderr).toBe('ag: ag-flannel code cache rejected');
    expect(rejected.stdout).toBe(expected.stdout);
    expect(rejected.exitCode).toBe(0);
  });
});
