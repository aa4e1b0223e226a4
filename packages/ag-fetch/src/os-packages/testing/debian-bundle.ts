/**
 * Test support: the connected side of the OS-packages story as its own
 * process, for tests of the far side (ag-nodeprep may not import ag-fetch).
 *
 *   node --import tsx debian-bundle.ts BUNDLE CACHE BASELINE [PACKAGE…]
 *
 * BASELINE is `minimal`, `status:FILE` or `inventory:FILE`. Writes the
 * bundle's repository under BUNDLE/packages and the packages section to stdout.
 */
import { createLogger, processIo } from '@ag/core';
import type { BaselineInput } from '../apt-baseline.js';
import { downloadOsPackages } from '../download-os-packages.js';
import { planOsPackages } from '../plan-os-packages.js';

const [bundleRoot, cacheDir, baselineArg = 'minimal', ...packages] = process.argv.slice(2);
if (bundleRoot === undefined || cacheDir === undefined) throw new Error('usage: debian-bundle.ts BUNDLE CACHE BASELINE [PACKAGE…]');
const [kind, file] = baselineArg.split(/:(.*)/s) as [string, string | undefined];
const baseline = (file === undefined ? { kind } : { kind, file }) as BaselineInput;
const io = processIo();
const log = createLogger(io, { tool: 'debian-bundle', level: 'warn' });
const planned = planOsPackages({ os: 'debian-12', architectures: ['amd64'] });
const section = packages.length > 0 ? { ...planned, requested: packages } : planned;
const done = await downloadOsPackages(section, { io, log, bundleRoot, cacheDir, baseline });
process.stdout.write(`${JSON.stringify(done)}\n`);
