// The set-up step on a copy of this checkout without node_modules or any
// dist/: what it finds missing and what it says, without installing anything
// (the fresh-clone test does the installing). The copy holds the working
// files, so these tests see uncommitted changes.
import { appendFileSync, chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ENSURE = join('tools', 'setup', 'src', 'ensure.mjs');
const NOT_COPIED = new Set(['node_modules', 'dist', '.git', '.nx', 'coverage', '.vitest-cache']);
// A name Debian's rules allow (policy 5.6.1) that no archive has: never installed.
const ABSENT_PACKAGE = 'ag-setup-test-absent-package';

let checkout: string;

/** The set-up step in the copy, as a user other than root when this runs as root. */
function ensure(args: string[], { asUser = false }: { asUser?: boolean } = {}) {
  const env = { ...process.env, INIT_CWD: checkout, AG_SETUP_IN_PROGRESS: '' };
  const unprivileged = asUser && process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const [command, ...rest] = [...unprivileged, process.execPath, ENSURE, ...args];
  return execa(command!, rest, { cwd: checkout, env, reject: false });
}

beforeAll(() => {
  checkout = mkdtempSync(join(tmpdir(), 'ag-setup-'));
  chmodSync(checkout, 0o755); // readable by the unprivileged user
  cpSync(repo, checkout, {
    recursive: true,
    filter: (path) => !relative(repo, path).split(sep).some((part) => NOT_COPIED.has(part)),
  });
});

afterAll(() => {
  if (checkout !== undefined) rmSync(checkout, { recursive: true, force: true });
});

describe('ensure.mjs on a checkout where nothing is set up', () => {
  it('says, without doing it, that npm ci and the build are missing (--dry-run)', async () => {
    const result = await ensure(['--dry-run', 'deps', 'build']);
    expect(result.exitCode).toBe(0);
    const lines = result.stderr.split('\n');
    expect(lines[0]).toBe('ag setup: node_modules is missing: would run npm ci');
    expect(lines[1]).toMatch(/^ag setup: packages\/ag-[a-z]+\/dist is missing: would run npm run build$/);
    expect(existsSync(join(checkout, 'node_modules'))).toBe(false);
  });

  it('names every missing Debian package and the one command that installs them, exit 5, when not root', async () => {
    const list = join(checkout, 'tools', 'ci', 'debian-packages.txt');
    const original = readFileSync(list, 'utf8');
    appendFileSync(list, `${ABSENT_PACKAGE}   # only in this test's copy\n`);
    try {
      const result = await ensure([], { asUser: true });
      expect(result.exitCode).toBe(5);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(
        new RegExp(`^ag setup: missing Debian packages: (\\S+ )*${ABSENT_PACKAGE}; install them with: sudo bash tools/ci/install-debian-packages.sh$`),
      );
      // It stopped before the next step.
      expect(existsSync(join(checkout, 'node_modules'))).toBe(false);
    } finally {
      writeFileSync(list, original);
    }
  });

  it('refuses an unknown step with the usage, exit 2', async () => {
    const result = await ensure(['dpes']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('unknown step or option dpes');
    expect(result.stderr).toContain('usage: node tools/setup/src/ensure.mjs');
  });
});

describe('the README and docs commands', () => {
  /** `npm run X` and `npm test` in the README and docs, by script name. */
  function documentedScripts(): string[] {
    const docs = ['README.md', ...readdirSync(join(repo, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join('docs', name))];
    const names = new Set<string>();
    for (const doc of docs) {
      for (const match of readFileSync(join(repo, doc), 'utf8').matchAll(/\bnpm (?:run ([\w:-]+)|(test)\b)/g)) names.add(match[1] ?? match[2]!);
    }
    return [...names].sort();
  }

  it('each set up what they need first (a pre-hook runs ensure.mjs), so none ends in a stack trace for a missing package', () => {
    const { scripts } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const documented = documentedScripts();
    expect(documented).toEqual(expect.arrayContaining(['demo', 'test']));
    const withoutSetup = documented.filter((name) => !scripts[`pre${name}`]?.startsWith(`node ${ENSURE.split(sep).join('/')}`));
    expect(withoutSetup).toEqual([]);
  });
});
