// The README's two commands on a fresh clone, with nothing run first: `npm
// run demo` whole, and `npm test` restricted to one small file (the whole
// suite inside the suite would double CI time), each starting without
// node_modules so that npm ci, the build, typecheck and lint run for real.
// The clone is of this repository's HEAD: commit before running this. The
// Debian packages are the machine's own (installing them needs the archive
// and root; tools/setup/src/ensure.test.ts covers the check).
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Set in the clone's own runs: the test must not start itself there again.
const INSIDE = 'AG_FRESH_CLONE_TEST';
const here = dirname(fileURLToPath(import.meta.url));
const SMALL_TEST = 'tools/setup/src/ensure.test.ts';
const MINUTES = 60_000;

const why =
  process.env[INSIDE] === '1'
    ? 'this is the fresh clone’s own run'
    : process.getuid?.() !== 0
      ? 'npm run demo needs root (network namespaces, containerd); CI runs as root'
      : undefined;
if (why !== undefined && process.env[INSIDE] !== '1') process.stderr.write(`fresh-clone test skipped: ${why}\n`);

/**
 * The environment of a shell on a fresh machine: none of the variables the
 * npm and vitest running this test set, which would leak into the clone's
 * own npm and vitest.
 */
function freshEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|VITEST|AG_SETUP_|INIT_CWD$|NODE_ENV$|TEST$)/i.test(name)));
  return { ...env, [INSIDE]: '1' };
}

const tail = (result: { all?: string }, lines = 60): string => (result.all ?? '').split('\n').slice(-lines).join('\n');

describe.skipIf(why !== undefined)('a fresh clone: the README’s commands set up what they need', () => {
  let clone: string;
  const at = (...path: string[]): string => join(clone, ...path);
  const inClone = (command: string, args: string[]) =>
    execa(command, args, { cwd: clone, env: freshEnv(), extendEnv: false, all: true, reject: false });
  const ensure = (...args: string[]) => inClone(process.execPath, ['tools/setup/src/ensure.mjs', ...args]);
  const distFiles = (): string[] =>
    readdirSync(at('packages')).flatMap((name) => {
      const dist = at('packages', name, 'dist');
      // Files only: a directory the build writes into but adds nothing to (dist/share) keeps its time.
      return existsSync(dist)
        ? readdirSync(dist, { recursive: true, encoding: 'utf8' })
            .map((file) => join(dist, file))
            .filter((path) => statSync(path).isFile())
        : [];
    });

  beforeAll(async () => {
    const { stdout: repo } = await execa('git', ['rev-parse', '--show-toplevel'], { cwd: here });
    clone = mkdtempSync(join(tmpdir(), 'ag-fresh-clone-'));
    await execa('git', ['clone', '--quiet', repo, clone]);
  });

  afterAll(() => {
    if (clone !== undefined) rmSync(clone, { recursive: true, force: true });
  });

  it('npm run demo: npm ci, the build, then the whole demo across the simulated gap', async () => {
    expect(existsSync(at('node_modules'))).toBe(false);
    const result = await inClone('npm', ['run', 'demo']);
    expect(result.exitCode, tail(result)).toBe(0);
    expect(result.all).toContain('ag setup: node_modules is missing: npm ci');
    expect(result.all).toMatch(/no packet left the far side: TX 0\b/);
    expect(existsSync(at('node_modules', '.package-lock.json'))).toBe(true);
    expect(distFiles().length).toBeGreaterThan(0);
  }, 25 * MINUTES);

  it('a second run finds everything done and does nothing', async () => {
    const installed = statSync(at('node_modules', '.package-lock.json')).mtimeMs;
    const built = distFiles().map((file) => statSync(file).mtimeMs);
    const result = await ensure();
    expect(result.exitCode).toBe(0);
    expect(result.all).toBe('');
    expect(statSync(at('node_modules', '.package-lock.json')).mtimeMs).toBe(installed);
    expect(distFiles().map((file) => statSync(file).mtimeMs)).toEqual(built);
  });

  it('sees a changed lock file and rebuilds after a source file changes', async () => {
    const hidden = at('node_modules', '.package-lock.json');
    const { atime, mtime } = statSync(hidden);
    utimesSync(hidden, atime, new Date(statSync(at('package-lock.json')).mtimeMs - 60_000));
    const stale = await ensure('--dry-run');
    utimesSync(hidden, atime, mtime);
    expect(stale.exitCode).toBe(0);
    expect(stale.all).toBe('ag setup: node_modules is older than package-lock.json: would run npm ci');

    const source = at('packages', 'core', 'src', 'index.ts');
    const now = new Date();
    utimesSync(source, now, now);
    const rebuilt = await ensure('build');
    expect(rebuilt.exitCode, tail(rebuilt)).toBe(0);
    expect(rebuilt.all).toMatch(/^ag setup: packages\/ag-[a-z]+\/dist\/\S+ is older than packages\/core\/src\/index\.ts: npm run build$/m);
    expect(Math.min(...distFiles().map((file) => statSync(file).mtimeMs))).toBeGreaterThanOrEqual(now.getTime() - 1000);
    expect((await ensure()).all).toBe('');
  }, 5 * MINUTES);

  it('npm test: npm ci, the build, typecheck and lint, then the tests (one small file here)', async () => {
    await execa('git', ['clean', '-fdxq'], { cwd: clone });
    expect(existsSync(at('node_modules'))).toBe(false);
    const result = await inClone('npm', ['test', '--', SMALL_TEST]);
    expect(result.exitCode, tail(result)).toBe(0);
    expect(result.all).toContain('ag setup: node_modules is missing: npm ci');
    expect(result.all).toContain('> tsc -p tsconfig.json --noEmit');
    expect(result.all).toContain('> nx show projects > /dev/null && eslint .');
    expect(stripVTControlCharacters(result.all)).toMatch(/Test Files\s+1 passed \(1\)/);
  }, 25 * MINUTES);
});
