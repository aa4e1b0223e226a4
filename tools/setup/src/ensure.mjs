#!/usr/bin/env node
// The set-up `npm run demo`, `npm test` and the other README commands need,
// done only where missing, so that a fresh clone needs nothing run first:
//   debian  the Debian packages in tools/ci/debian-packages.txt (as root:
//           installs them; otherwise says which and how, exit 5)
//   deps    `npm ci` when node_modules is missing or older than package-lock.json
//   build   `npm run build` when a tool's dist/ is missing or older than its sources
// Usage: node tools/setup/src/ensure.mjs [--dry-run] [debian] [deps] [build]   (all three by default)
// Runs from npm's pre<script> hooks, before anything is installed: Node's
// built-ins only. A second run does nothing and takes a few hundred ms at most.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALL_SCRIPT, missingPackages } from './debian.mjs';
import { buildStale, dependenciesStale } from './freshness.mjs';
import { EXIT_CHILD_FAILED, EXIT_MISSING, SetupProblem } from './problem.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
// Set for the programs this starts: a hook of theirs that runs this again
// (say a future `prepare` that calls `npm run build`) must not start over.
const IN_PROGRESS = 'AG_SETUP_IN_PROGRESS';

function say(line) {
  process.stderr.write(`ag setup: ${line}\n`);
}

/** The engines.node floor in package.json (">=20.19"), checked before anything else. */
function checkNode() {
  const wanted = /^>=\s*(\d+)\.(\d+)/.exec(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines?.node ?? '');
  if (wanted === null) return;
  const [major, minor] = process.versions.node.split('.').map(Number);
  const [wantMajor, wantMinor] = [Number(wanted[1]), Number(wanted[2])];
  if (major > wantMajor || (major === wantMajor && minor >= wantMinor)) return;
  throw new SetupProblem(`Node.js ${process.versions.node} is too old: ag needs ${wanted[0]} (package.json "engines"); install a newer Node.js 20 and run this again`, EXIT_MISSING);
}

/** npm itself: the one running this hook when there is one (npm_execpath), else the one on PATH. */
function npm(args) {
  const cli = process.env['npm_execpath'];
  return cli !== undefined && /npm-cli\.js$/.test(cli) ? [process.execPath, [cli, ...args]] : ['npm', args];
}

/** Runs a program with its output on stderr (stdout belongs to the command being set up). */
function run(what, [command, args], hint) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: ['ignore', 2, 2],
    env: { ...process.env, [IN_PROGRESS]: '1' },
  });
  if (result.error !== undefined) {
    throw new SetupProblem(`${what} could not start ${command}: ${result.error.code ?? result.error.message}; ${hint}`, EXIT_CHILD_FAILED);
  }
  if (result.signal !== null) {
    throw new SetupProblem(`${what} was stopped by ${result.signal}`, 128 + (constants.signals[result.signal] ?? 0));
  }
  if (result.status !== 0) throw new SetupProblem(`${what} failed (exit ${result.status}); ${hint}`, EXIT_CHILD_FAILED);
}

/** Where the user typed the command (npm's INIT_CWD): paths in messages are relative to it. */
const shown = (path) => relative(process.env['INIT_CWD'] ?? process.cwd(), join(root, path));

/**
 * Each step: why it is needed (undefined once done), the command that does
 * it, and what to say if that command fails.
 */
const STEPS = {
  debian: {
    needed() {
      const missing = missingPackages(root);
      return missing.length > 0 ? `missing Debian packages: ${missing.join(' ')}` : undefined;
    },
    action: () => `bash ${shown(INSTALL_SCRIPT)}`,
    command: () => ['bash', [join(root, INSTALL_SCRIPT)]],
    allowed(why) {
      if (process.getuid?.() === 0) return;
      throw new SetupProblem(`${why}; install them with: sudo bash ${shown(INSTALL_SCRIPT)}`, EXIT_MISSING);
    },
    hint: "apt-get needs Debian's archive (see /etc/apt/sources.list.d/); the lines above say what went wrong",
  },
  deps: {
    needed: () => dependenciesStale(root),
    action: () => 'npm ci',
    command: () => npm(['ci', '--no-audit', '--no-fund']),
    hint: 'it needs the npm registry (`npm config get registry`) reachable; the lines above say what went wrong',
  },
  build: {
    needed: () => buildStale(root),
    action: () => 'npm run build',
    command: () => npm(['run', 'build']),
    hint: 'the lines above say which tool did not build',
  },
};

/** Does one step when it is needed; true when it was (or, with dryRun, would be). */
function ensure(step, dryRun) {
  const why = step.needed();
  if (why === undefined) return false;
  if (dryRun) {
    say(`${why}: would run ${step.action()}`);
    return true;
  }
  step.allowed?.(why);
  say(`${why}: ${step.action()}`);
  run(step.action(), step.command(), step.hint);
  const still = step.needed();
  if (still !== undefined) throw new SetupProblem(`after ${step.action()}, still ${still}`, EXIT_CHILD_FAILED);
  return true;
}

const USAGE = `usage: node tools/setup/src/ensure.mjs [--dry-run] [${Object.keys(STEPS).join('] [')}]
  does what the named steps (all by default) still need, in this order:
  debian  installs the missing packages of tools/ci/debian-packages.txt (as root; otherwise names them, exit 5)
  deps    npm ci, when node_modules is missing or older than package-lock.json
  build   npm run build, when a tool's dist/ is missing or older than a file it is built from
  --dry-run  says what it would do, does nothing
example: node tools/setup/src/ensure.mjs --dry-run deps`;

function main(argv) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const dryRun = argv.includes('--dry-run');
  const named = argv.filter((arg) => arg !== '--dry-run');
  const unknown = named.filter((step) => !Object.hasOwn(STEPS, step));
  if (unknown.length > 0) throw new SetupProblem(`unknown step or option ${unknown.join(', ')}\n${USAGE}`, 2);
  if (process.env[IN_PROGRESS] === '1') return;
  const steps = Object.keys(STEPS).filter((step) => named.length === 0 || named.includes(step));
  const started = Date.now();
  checkNode();
  const done = steps.filter((step) => ensure(STEPS[step], dryRun));
  if (done.length > 0 && !dryRun) say(`set up (${done.join(', ')}) in ${Math.round((Date.now() - started) / 1000)} s`);
}

try {
  main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof SetupProblem)) throw error;
  say(error.message);
  process.exitCode = error.exitCode;
}
