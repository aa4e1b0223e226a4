import type { Argv } from 'yargs';
import { parseDuration, processIo, readDocument, runTool, sharedOption, type AgDocument, type CommandContext, type Io } from '@ag/core';
import { summaries } from './summary.js';

export const VERSION = '0.1.0';

type Context = CommandContext<Record<string, unknown>>;

const str = (context: Context, name: string): string | undefined => {
  const value = context.args[name];
  return typeof value === 'string' ? value : undefined;
};

const strs = (context: Context, name: string): string[] | undefined => {
  const value = context.args[name];
  return Array.isArray(value) ? value.map(String) : undefined;
};

async function requireDocument(context: Context): Promise<AgDocument> {
  return (await readDocument(context.io, { required: true, inPath: context.args.in })) as AgDocument;
}

export const handlers: Record<string, (context: Context) => Promise<number | void>> = {
  async render(context) {
    const { renderFlannel } = await import('./render.js');
    const document = await requireDocument(context);
    const dryRun = context.args['dry-run'] === true;
    const result = await renderFlannel(document, {
      manifest: str(context, 'manifest'),
      out: str(context, 'out'),
      backend: str(context, 'backend'),
      interfaces: strs(context, 'iface'),
      interfaceRegexes: strs(context, 'iface-regex'),
      interfaceCanReach: str(context, 'iface-can-reach'),
      registry: str(context, 'registry'),
      dir: str(context, 'dir'),
      cwd: context.io.cwd,
      dryRun,
      log: context.log,
    });
    if (dryRun) context.reportPlanned(result.changed ? [{ action: 'write-file', target: result.path }] : []);
    else context.log.info(result.changed ? `wrote ${result.path}` : `${result.path} is already up to date`);
    context.log.info(`pod network ${result.section.podSubnet}, backend ${result.section.backend}, ${result.section.images.length} image(s) pinned by digest`);
    context.emit({ ...document, flannel: result.section });
  },

  async apply(context) {
    const { applyFlannel } = await import('./apply.js');
    const document = await requireDocument(context);
    const timeout = str(context, 'timeout');
    const result = await applyFlannel(document, {
      io: context.io,
      log: context.log,
      kubeconfig: str(context, 'kubeconfig'),
      kubectl: str(context, 'kubectl'),
      hostRoot: str(context, 'root'),
      dir: str(context, 'dir'),
      cwd: context.io.cwd,
      timeoutMs: timeout === undefined ? undefined : parseDuration(timeout),
      intervalMs: context.io.env['AG_POLL_INTERVAL_MS'] !== undefined ? Number(context.io.env['AG_POLL_INTERVAL_MS']) : undefined,
      dryRun: context.args['dry-run'] === true,
    });
    if (context.args['dry-run'] === true) context.reportPlanned(result.actions);
    context.emit({ ...document, flannel: result.section });
  },
};

function configure(parser: Argv): Argv {
  return parser
    .usage('$0 <command> [options] < document.json > document.json\n\nflannel for an air-gapped cluster: render the manifest for this cluster, apply it, wait for the nodes.')
    .command('render', "set the pod network from the document, the backend, and pin every image by the layout's digest", (y) =>
      y
        .option('manifest', { type: 'string', describe: "the upstream manifest (default: the bundle's kube-flannel.yml)", requiresArg: true })
        .option('out', { type: 'string', describe: 'where to write it (default <bundle>/rendered/kube-flannel.yml)', requiresArg: true })
        .option('backend', { type: 'string', default: 'vxlan', describe: 'net-conf.json Backend.Type: vxlan, host-gw, wireguard, …', requiresArg: true })
        .option('iface', { type: 'string', array: true, describe: 'flanneld --iface: an interface name every node has, tried first (repeatable; an address exists on one node only)', requiresArg: true })
        .option('iface-regex', { type: 'string', array: true, describe: "flanneld --iface-regex: a Go regular expression matched against each interface's addresses and names, tried next (repeatable)", requiresArg: true })
        .option('iface-can-reach', { type: 'string', describe: "flanneld --iface-can-reach: use the interface that routes to this address ('ip route get'), tried last", requiresArg: true })
        .option('registry', sharedOption('registry', "name every image where ag-images push put it there; internal: the document's registry (default: upstream names, served through containerd's mirrors)"))
        .option('dir', sharedOption('dir', "(default: the document's root)"))
        .option('dry-run', { type: 'boolean', default: false, describe: 'compute it and write nothing' }),
    )
    .command('apply', 'apply the rendered manifest, wait until every node is Ready with its flannel pod Running, and for the rollout', (y) =>
      y
        .option('kubeconfig', { type: 'string', describe: "the admin kubeconfig (default: the document's kubeadm.adminKubeconfig)", requiresArg: true })
        .option('kubectl', { type: 'string', describe: "kubectl to run (default: the bundle's, else PATH)", requiresArg: true })
        .option('root', sharedOption('root', '/ on a node; a chroot or a test directory otherwise', { default: '/' }))
        .option('dir', sharedOption('dir', "(default: the document's root)"))
        .option('timeout', { type: 'string', default: '5m', describe: "how long to wait for the nodes, their flannel pods and the rollout", requiresArg: true })
        .option('dry-run', { type: 'boolean', default: false, describe: 'print the kubectl commands as JSON on stderr and run nothing' }),
    )
    .example('ag-flannel render < cluster.json > cluster.json.new', 'render the bundle\'s manifest with the cluster\'s pod subnet and pinned images')
    .example('ag-flannel render --registry internal < cluster.json', "pin the images by their names in the document's registry (<host>/<prefix>/docker.io/flannel/…)")
    .example('ag-flannel render --backend host-gw --iface eth1 < cluster.json', 'host-gw between nodes on one L2 network, over eth1')
    .example("ag-flannel render --iface-regex '^192\\.168\\.56\\.' < cluster.json", 'the interface holding an address of the node network, on every node')
    .example('ag-flannel render --iface-can-reach 192.168.56.1 < cluster.json', 'the interface each node routes to the node network gateway through')
    .example('ag-kubeadm init < c.json | ag-flannel render | ag-flannel apply > cluster.json', 'the control plane, then the pod network');
}

/** Runs ag-flannel with `argv`; returns the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool({ name: 'ag-flannel', version: VERSION, configure, handlers, summaries }, argv, io);
}
