// Whether `npm ci` and the build are already done since their inputs last
// changed, judged by modification times (like make): cheap enough to ask at
// every `npm run demo` and `npm test`, and generic, so a new build step that
// writes into packages/*/dist needs no change here.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function mtimeMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Why `npm ci` must run, or undefined when node_modules is current. npm
 * writes node_modules/.package-lock.json at the end of a complete install,
 * so an interrupted one counts as not done.
 */
export function dependenciesStale(root) {
  const installed = mtimeMs(join(root, 'node_modules', '.package-lock.json'));
  if (installed === undefined) {
    return existsSync(join(root, 'node_modules')) ? 'node_modules is incomplete (an install did not finish)' : 'node_modules is missing';
  }
  if (installed < (mtimeMs(join(root, 'package-lock.json')) ?? 0)) return 'node_modules is older than package-lock.json';
  return undefined;
}

/** Every file under dir, skipping what `skip(name, isDirectory)` names. */
function* filesUnder(dir, skip) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip(entry.name, entry.isDirectory())) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path, skip);
    else if (entry.isFile()) yield path;
  }
}

function packageDirs(root) {
  const packages = join(root, 'packages');
  return readdirSync(packages, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(packages, entry.name, 'package.json')))
    .map((entry) => join(packages, entry.name));
}

/**
 * The newest file the build reads: any package's files (a tool bundles core
 * and its dependencies), the lock file (the dependencies' versions) and the
 * build scripts. Tests are not built, so editing one does not count.
 */
function newestInput(root) {
  const notBuilt = (name, isDirectory) =>
    isDirectory ? name === 'node_modules' || name === 'dist' : name.endsWith('.test.ts');
  let newest = { path: join(root, 'package-lock.json'), mtimeMs: mtimeMs(join(root, 'package-lock.json')) ?? 0 };
  const dirs = [...packageDirs(root), join(root, 'tools', 'build')];
  for (const dir of dirs) {
    for (const path of filesUnder(dir, notBuilt)) {
      const time = statSync(path).mtimeMs;
      if (time > newest.mtimeMs) newest = { path, mtimeMs: time };
    }
  }
  return newest;
}

/** A tool: a package with a "bin" in its package.json (its build output must exist). */
function binTargets(dir) {
  const { bin } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (bin === undefined) return [];
  return (typeof bin === 'string' ? [bin] : Object.values(bin)).map((target) => join(dir, target));
}

/**
 * Why `npm run build` must run, or undefined when every package's dist/ is
 * current: a tool without a dist/ or without its bin, or any dist/ file
 * older than the newest file the build reads.
 */
export function buildStale(root) {
  let oldest;
  for (const dir of packageDirs(root)) {
    const dist = join(dir, 'dist');
    const outputs = existsSync(dist) ? [...filesUnder(dist, () => false)] : [];
    const tool = binTargets(dir);
    if (tool.length > 0 && outputs.length === 0) return `${relative(root, dist)} is missing`;
    const absent = tool.find((target) => !existsSync(target));
    if (absent !== undefined) return `${relative(root, absent)} is missing`;
    for (const path of outputs) {
      const time = statSync(path).mtimeMs;
      if (oldest === undefined || time < oldest.mtimeMs) oldest = { path, mtimeMs: time };
    }
  }
  if (oldest === undefined) return undefined;
  const newest = newestInput(root);
  if (oldest.mtimeMs < newest.mtimeMs) return `${relative(root, oldest.path)} is older than ${relative(root, newest.path)}`;
  return undefined;
}
