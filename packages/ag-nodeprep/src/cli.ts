import { resolve } from 'node:path';
import {
  ExitCode,
  MissingError,
  newDocument,
  processIo,
  readDocument,
  runTool,
  sharedOption,
  type AgDocument,
  type CommandContext,
  type Handler,
  type Io,
  type NodeprepSection,
} from '@ag/core';
import type { Argv } from 'yargs';
import type { NodeprepOptions } from './context.js';
import { summaries } from './summary.js';
// The steps' names and lines, not their code: --help describes them, apply loads them (plan.ts).
import { STEP_LIST } from './steps/list.js';

const VERSION = '0.1.0';

function configure(parser: Argv): Argv {
  return parser
    .usage('$0 <command> [options] < document.json > document.json\n\nMakes a host ready for kubeadm, offline: plan shows, apply does, check verifies.')
    .epilogue(`Steps, in the order apply runs them (--skip NAME leaves one out):\n${STEP_LIST.map((s) => `${s.name}: ${s.summary}`).join('\n')}`)
    .command('plan', 'list every change apply would make (with the diff of each file), or every blocker at once (exit 5); change nothing. A terminal gets the plan to read, a pipe the document')
    .command('apply', 'perform the actions; a second apply reports zero changes')
    .command('check', 'verify the host is ready; list everything that is not, exit 5 when anything is missing')
    .command('inventory', "print this node's installed OS packages and versions as JSON, for ag-fetch download --inventory; change nothing")
    .option('root', sharedOption('root', 'prepare the files under DIR (a chroot, an image, a test) and run no host commands', { default: '/' }))
    .option('skip', { type: 'string', array: true, default: [] as string[], describe: `leave a step out (repeatable): ${STEP_LIST.map((s) => s.name).join(', ')}` })
    .option('dir', sharedOption('dir', "(when not where the document's root says)"))
    .option('arch', { type: 'string', describe: 'the node architecture (default: the plan\'s only one, else this machine\'s)', requiresArg: true })
    .option('selinux', { choices: ['permissive', 'enforcing'] as const, default: 'permissive' as const, describe: 'SELinux: permissive, or left enforcing (needs container-selinux)' })
    .option('firewall', { choices: ['disable', 'open'] as const, default: 'disable' as const, describe: 'firewalld: disable it, or open the Kubernetes ports' })
    .option('iptables-backend', { choices: ['legacy', 'nft'] as const, describe: 'the iptables backend (default: legacy; nft on RHEL)' })
    .option('resolved', { choices: ['disable', 'keep'] as const, default: 'disable' as const, describe: "systemd-resolved: disable it with a plain /etc/resolv.conf, or keep it (the kubelet gets its own file either way)" })
    .option('nameserver', { type: 'string', array: true, default: [] as string[], describe: "a site DNS server, by address (repeatable): for the kubelet's /etc/kubernetes/resolv.conf and a plain /etc/resolv.conf" })
    .option('containerd-version', { type: 'string', describe: 'write the config for this containerd (default: detected)', requiresArg: true })
    .option('sandbox-image', { type: 'string', describe: 'the CRI sandbox image (default: registry.k8s.io/pause:<plan\'s pause>)', requiresArg: true })
    .option('cgroup-driver', { choices: ['systemd', 'cgroupfs'] as const, default: 'systemd' as const, describe: 'runc cgroup driver; cgroupfs only for hosts without systemd' })
    .option('preload-images', { type: 'boolean', default: false, describe: "import the bundle's images into containerd (k8s.io namespace)" })
    .option('containerd-address', sharedOption('containerd-address', '(preload, check)', { default: '/run/containerd/containerd.sock' }))
    .option('dry-run', { type: 'boolean', default: false, describe: 'apply: print the plan instead' })
    .example('ag-nodeprep plan < bundle/bundle.json | jq \'.nodeprep.actions[] | {step, action, target}\'', 'see what apply would do on this host')
    .example('ag-nodeprep apply < bundle/bundle.json > node.json', 'prepare this host; run again: 0 changes')
    .example('ag-nodeprep apply --root /mnt/image --skip preload < bundle.json > image.json', 'prepare an image being built; no host commands')
    .example('ag-nodeprep apply --skip firewall --nameserver 10.0.0.53 < bundle.json', "leave firewalld alone; pods and this host resolve through the site's 10.0.0.53")
    .example('ag-nodeprep apply --resolved keep --nameserver 10.0.0.53 < bundle.json', 'keep systemd-resolved for this host; the kubelet still gets a file naming 10.0.0.53')
    .example('ag-nodeprep check < node.json > /dev/null', 'list everything not ready, exit 5 if anything is')
    .example('ag-nodeprep inventory > inventory.json', "carry this back: ag-fetch download --inventory inventory.json leaves out what the node has");
}

function optionsFrom(args: CommandContext<Record<string, unknown>>['args']): Partial<NodeprepOptions> & Pick<NodeprepOptions, 'root'> {
  const text = (name: string): string | undefined => (typeof args[name] === 'string' ? (args[name] as string) : undefined);
  return {
    root: text('root') ?? '/',
    skip: ((args['skip'] as string[] | undefined) ?? []).flatMap((s) => s.split(',')).filter(Boolean),
    bundleDir: text('dir'),
    arch: text('arch'),
    selinux: args['selinux'] as NodeprepOptions['selinux'],
    firewall: args['firewall'] as NodeprepOptions['firewall'],
    iptablesBackend: args['iptables-backend'] as NodeprepOptions['iptablesBackend'],
    resolved: args['resolved'] as NodeprepOptions['resolved'],
    nameservers: (args['nameserver'] as string[] | undefined) ?? [],
    containerdVersion: text('containerd-version'),
    sandboxImage: text('sandbox-image'),
    cgroupDriver: args['cgroup-driver'] as NodeprepOptions['cgroupDriver'],
    preloadImages: args['preload-images'] === true,
    containerdAddress: text('containerd-address') ?? '/run/containerd/containerd.sock',
  };
}

async function input(context: CommandContext<Record<string, unknown>>): Promise<{ document: AgDocument; options: ReturnType<typeof optionsFrom> }> {
  const document = (await readDocument(context.io, { required: false, inPath: context.args.in })) ?? newDocument();
  return { document, options: optionsFrom(context.args) };
}

function emit(context: CommandContext<Record<string, unknown>>, document: AgDocument, section: NodeprepSection): void {
  context.emit({ ...document, nodeprep: section });
}

const plan: Handler = async (context) => {
  const [{ planNode, sectionOf }, { blockedError, previewPlan }] = await Promise.all([import('./plan.js'), import('./preview.js')]);
  const { document, options } = await input(context);
  const planned = await planNode({ document, options, io: context.io, log: context.log });
  const blockers = await previewPlan(planned);
  const section: NodeprepSection = { ...sectionOf(planned, 'plan'), plannedAt: new Date().toISOString() };
  const count = section.actions.filter((a) => a.status === 'planned').length;
  const done = section.actions.filter((a) => a.status === 'unchanged').length;
  if (blockers.length > 0) {
    context.log.info(`with these resolved, apply would make ${count} change(s) (${done} already as wanted)`);
    throw blockedError(blockers);
  }
  context.log.info(`${count} change(s) planned, ${done} already as wanted, for ${section.os.name ?? section.os.id} at ${section.root}; nothing changed`);
  // A person at a terminal gets the plan to read (terraform plan's way; summaries below); a pipe gets the document.
  emit(context, document, section);
};

const apply: Handler = async (context) => {
  const { applyNode } = await import('./apply.js');
  if (context.args['dry-run'] === true) return plan(context);
  const { document, options } = await input(context);
  const section = await applyNode({ document, options, io: context.io, log: context.log });
  const skipped = section.actions.filter((a) => a.status === 'skipped').length;
  context.log.info(
    `${section.changes} change(s)${section.backupDir ? `, previous versions in ${section.backupDir}` : ''}; ${section.actions.length - section.changes - skipped} already as wanted; ${skipped} skipped`,
  );
  emit(context, document, section);
};

const check: Handler = async (context) => {
  const { checkNode } = await import('./check.js');
  const { document, options } = await input(context);
  const result = await checkNode({ document, options, io: context.io, log: context.log });
  if (!result.ready) {
    for (const p of result.problems) context.log.error(`not ready: ${p.step}: ${p.problem}`, { step: p.step, target: p.target });
    // Nothing on stdout: a pipeline into ag-kubeadm must not go on with a node that is not ready.
    throw new MissingError(`${result.problems.length} thing(s) not ready for kubeadm (listed above)`, { hint: 'run ag-nodeprep apply (with the same options), then check again' });
  }
  context.log.info(`ready: ${result.section.actions.filter((a) => a.status === 'unchanged').length} item(s) verified`);
  emit(context, document, result.section);
  return ExitCode.ok;
};

const inventory: Handler = async (context) => {
  const { takeInventory } = await import('./os-packages/inventory.js');
  const root = resolve(context.io.cwd, typeof context.args['root'] === 'string' ? context.args['root'] : '/');
  const taken = await takeInventory({ root, io: context.io });
  context.io.stdout.write(`${JSON.stringify(taken, null, context.args.pretty ? 2 : undefined)}\n`);
  context.log.info(`${taken.packages.length} ${taken.format} packages installed on ${taken.os.prettyName ?? `${taken.os.id} ${taken.os.versionId}`} (${taken.arch}) at ${root}`);
};

/** `ag-nodeprep` in-process: returns the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool({ name: 'ag-nodeprep', version: VERSION, configure, handlers: { plan, apply, check, inventory }, summaries }, argv, io);
}
