// Which of the Debian packages ag's tests and demo need are not installed.
// One read of dpkg's own database instead of one dpkg-query per package, so a
// second run stays fast.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SetupProblem, EXIT_MISSING } from './problem.mjs';

const DPKG_STATUS = '/var/lib/dpkg/status';

/** The list both this check and tools/ci/install-debian-packages.sh read. */
export const PACKAGE_LIST = join('tools', 'ci', 'debian-packages.txt');
export const INSTALL_SCRIPT = join('tools', 'ci', 'install-debian-packages.sh');

/** The package names in the list: one or more per line, '#' starts a comment. */
export function requiredPackages(root) {
  return readFileSync(join(root, PACKAGE_LIST), 'utf8')
    .split('\n')
    .flatMap((line) => line.replace(/#.*/, '').trim().split(/\s+/))
    .filter((name) => name !== '');
}

/**
 * The names of the installed packages in dpkg's status file: the stanzas
 * whose Status field ends in "installed" (dpkg-query(1): want, error flag,
 * state; "hold ok installed" is installed too).
 */
function installedPackages(statusText) {
  const installed = new Set();
  for (const stanza of statusText.split(/\n\n+/)) {
    const name = /^Package: (\S+)$/m.exec(stanza)?.[1];
    const state = /^Status: \S+ \S+ (\S+)$/m.exec(stanza)?.[1];
    if (name !== undefined && state === 'installed') installed.add(name);
  }
  return installed;
}

/** The required packages dpkg does not have installed, in the list's order. */
export function missingPackages(root) {
  const required = requiredPackages(root);
  let statusText;
  try {
    statusText = readFileSync(DPKG_STATUS, 'utf8');
  } catch (error) {
    throw new SetupProblem(
      `cannot tell whether the Debian packages ag's tests and demo need are installed: reading ${DPKG_STATUS} failed (${error.code ?? error.message}); ` +
        `they run on Debian 12 with these packages: ${required.join(' ')}`,
      EXIT_MISSING,
    );
  }
  const installed = installedPackages(statusText);
  return required.filter((name) => !installed.has(name));
}
