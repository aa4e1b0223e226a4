/**
 * `npm run demo`: the whole ag pipeline across a simulated air gap on this
 * machine, with no internet (see scenario.ts), as readable progress on
 * stderr and a summary at the end. Needs root and the Debian packages of
 * tools/ci/install-debian-packages.sh.
 *
 *   npm run demo [-- --keep] [-- --work DIR] [-- --quiet] [-- --registry HOST[:PORT]/PREFIX] [-- --ha] [-- --with-os-packages]
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Transcript } from './reporter.js';
import { removeWork, runScenario } from './scenario.js';
import { formatSummary } from './summary.js';

const say = (line = ''): boolean => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      keep: { type: 'boolean', default: false },
      work: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      registry: { type: 'string' },
      ha: { type: 'boolean', default: false },
      'with-os-packages': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    say('npm run demo [-- --keep] [-- --work DIR] [-- --quiet] [-- --registry HOST[:PORT]/PREFIX] [-- --ha] [-- --with-os-packages]');
    say('  the whole pipeline across a simulated air gap (network namespaces), as root');
    say('  --keep   keep the working directory (the bundle, both sides, every document)');
    say('  --work   use DIR as the working directory (implies --keep)');
    say('  --quiet  print only the commands and the summary, not what each tool says');
    say("  --registry HOST[:PORT]/PREFIX  use the site's registry (a Harbor project, say) instead of ag-registry up:");
    say('           a distribution registry started apart on the far side stands in for it (HOST maps to 127.0.0.1 there),');
    say('           images go to HOST/PREFIX/<upstream host>/<path>; e.g. --registry registry.site.example:5443/k8s');
    say('  --ha     the production topology: init with a control-plane endpoint and --upload-certs, two more control planes');
    say('           joined with the certificate key, then the worker (all against the kubeadm double)');
    say("  --with-os-packages  resolve and download the OS packages (containerd, conntrack, …) from Debian's archive through");
    say("           a proxy on this machine (the connected side's only way out), carry them, and install them offline into the");
    say('           cached debootstrap Debian 12 root on the far side (the first run builds that root: minutes)');
    return 0;
  }
  const transcript = new Transcript((line) => {
    if (!values.quiet || !line.startsWith('    ')) say(line);
  });
  say('ag demo: Kubernetes v1.27.3 with flannel and podinfo, from plan on a connected side to containerd on a far side that has no route out');
  const work = values.work ?? (await mkdtemp(join(tmpdir(), 'ag-demo-')));
  const result = await runScenario({ reporter: transcript, work, ha: values.ha, osPackages: values['with-os-packages'], ...(values.registry !== undefined ? { siteRegistry: values.registry } : {}) }).catch((error: unknown) => {
    say(`the working directory is left for a look: ${work}`);
    throw error;
  });
  for (const line of formatSummary(result)) say(line);
  say();
  if (values.keep || values.work !== undefined) say(`kept: ${result.work} (connected/, far/, upstream/; the documents in far/doc/)`);
  else await removeWork(result.work);
  return result.gap.leak.packets === 0 ? 0 : 3;
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    say(`demo failed: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
