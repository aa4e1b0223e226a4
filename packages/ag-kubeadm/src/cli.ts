import type { Argv } from 'yargs';
import {
  argString as str,
  newDocument,
  parseDuration,
  processIo,
  readDocument,
  runTool,
  sharedOption,
  UsageError,
  type AgDocument,
  type CommandContext,
  type Io,
  type KubeadmSection,
} from '@ag/core';
import type { ConfigOptions } from './config.js';
import type { RunContext, Runner } from './context.js';
import { summaries } from './summary.js';

export const VERSION = '0.1.0';

type Args = CommandContext<Record<string, unknown>>['args'];

function hostOptions(y: Argv): Argv {
  return y
    .option('root', sharedOption('root', '/ on a node; a chroot or a test directory otherwise', { default: '/' }))
    .option('kubeadm', { type: 'string', describe: "kubeadm to run (default: the bundle's, installed by ag-nodeprep, else PATH)", requiresArg: true })
    .option('kubectl', { type: 'string', describe: "kubectl to run (default: the bundle's, else PATH)", requiresArg: true })
    .option('timeout', { type: 'string', default: '5m', describe: 'how long to wait for the API server and the node', requiresArg: true })
    .option('dry-run', { type: 'boolean', default: false, describe: 'print the actions as JSON on stderr and change nothing' });
}

function configOptions(y: Argv): Argv {
  return y
    .option('config-file', { type: 'string', describe: 'where to write the configuration on the node (default /etc/kubernetes/ag/kubeadm-config.yaml)', requiresArg: true })
    .option('image-repository', {
      type: 'string',
      describe: 'upstream (registry.k8s.io, served through containerd mirrors), internal (<registry.endpoint>/registry.k8s.io) or a repository',
      requiresArg: true,
    })
    .option('advertise-address', { type: 'string', describe: 'the API server address (default: detected)', requiresArg: true })
    .option('node-name', { type: 'string', describe: 'the node name (default: the hostname, lower case)', requiresArg: true })
    .option('cri-socket', { type: 'string', describe: 'the CRI socket (default unix:///var/run/containerd/containerd.sock)', requiresArg: true })
    .option('bind-port', { type: 'number', describe: 'the API server port (default 6443)', requiresArg: true })
    .option('control-plane-endpoint', { type: 'string', describe: 'host[:port] of a load balancer in front of every control-plane node (HA)', requiresArg: true })
    .option('single-node', { type: 'boolean', describe: 'remove the control-plane taint so that workloads and coredns run on this node' })
    .option('cert-san', { type: 'string', array: true, describe: 'extra Subject Alternative Names for the API server certificate', requiresArg: true })
    .option('apiserver-arg', { type: 'string', array: true, describe: 'name=value for kube-apiserver (repeatable)', requiresArg: true })
    .option('kubelet-arg', { type: 'string', array: true, describe: 'name=value for the kubelet (repeatable; node-ip defaults to the advertise address)', requiresArg: true })
    .option('pin-image-tags', { type: 'boolean', describe: 'also pin the etcd and coredns tags to fetch.components (kubeadm upgrade then leaves them alone)' })
    .option('control-plane-timeout', { type: 'string', describe: 'how long kubeadm waits for the control plane (default 4m)', requiresArg: true });
}


function strings(args: Args, name: string): string[] | undefined {
  const value = args[name];
  return Array.isArray(value) ? value.map(String) : undefined;
}

function duration(args: Args, name: string): number | undefined {
  const text = str(args, name);
  return text === undefined ? undefined : parseDuration(text);
}

function configFromArgs(args: Args): Omit<ConfigOptions, 'hostRoot' | 'dryRun' | 'log'> {
  return {
    configFile: str(args, 'config-file'),
    imageRepository: str(args, 'image-repository'),
    advertiseAddress: str(args, 'advertise-address'),
    nodeName: str(args, 'node-name'),
    criSocket: str(args, 'cri-socket'),
    bindPort: typeof args['bind-port'] === 'number' ? args['bind-port'] : undefined,
    controlPlaneEndpoint: str(args, 'control-plane-endpoint'),
    singleNode: typeof args['single-node'] === 'boolean' ? args['single-node'] : undefined,
    certSANs: strings(args, 'cert-san'),
    apiServerArgs: strings(args, 'apiserver-arg'),
    kubeletArgs: strings(args, 'kubelet-arg'),
    pinImageTags: typeof args['pin-image-tags'] === 'boolean' ? args['pin-image-tags'] : undefined,
    controlPlaneTimeoutMs: duration(args, 'control-plane-timeout'),
  };
}

function runContext(context: CommandContext<Record<string, unknown>>): RunContext {
  const { io, log, args } = context;
  return {
    io,
    log,
    hostRoot: str(args, 'root') ?? '/',
    kubeadm: str(args, 'kubeadm'),
    kubectl: str(args, 'kubectl'),
    timeoutMs: duration(args, 'timeout'),
    intervalMs: io.env['AG_POLL_INTERVAL_MS'] !== undefined ? Number(io.env['AG_POLL_INTERVAL_MS']) : undefined,
    dryRun: args['dry-run'] === true,
  };
}

function reportActions(context: CommandContext<Record<string, unknown>>, actions: Runner['actions']): void {
  if (context.args['dry-run'] === true) context.reportPlanned(actions);
}

function emit(context: CommandContext<Record<string, unknown>>, document: AgDocument, section: KubeadmSection | undefined): void {
  const out = { ...document };
  if (section === undefined) delete out.kubeadm;
  else out.kubeadm = section;
  context.emit(out);
}

async function requireDocument(context: CommandContext<Record<string, unknown>>): Promise<AgDocument> {
  return (await readDocument(context.io, { required: true, inPath: context.args.in })) as AgDocument;
}

export const handlers: Record<string, (context: CommandContext<Record<string, unknown>>) => Promise<number | void>> = {
  async config(context) {
    const { configureKubeadm } = await import('./config.js');
    const document = await requireDocument(context);
    const hostRoot = str(context.args, 'root') ?? '/';
    const result = await configureKubeadm(document, { ...configFromArgs(context.args), hostRoot, dryRun: context.args['dry-run'] === true, log: context.log });
    if (context.args['dry-run'] === true) reportActions(context, result.changed ? [{ action: 'write-file', target: result.path }] : []);
    else context.log.info(result.changed ? `wrote ${result.path} (${result.section.apiVersion})` : `${result.path} is already up to date`);
    context.log.info(`sandbox image: ${result.section.sandboxImage}`);
    emit(context, document, result.section);
  },

  async preflight(context) {
    const [{ createRunner }, { preflight }] = await Promise.all([import('./context.js'), import('./preflight.js')]);
    const document = await requireDocument(context);
    if (document.kubeadm === undefined) throw new UsageError('the document has no kubeadm section', { hint: 'run ag-kubeadm config first' });
    const runner = createRunner(document, runContext(context));
    const result = await preflight(document, document.kubeadm, runner);
    context.log.info(`all ${result.images.length} images kubeadm asks for are there; containerd's sandbox image is ${document.kubeadm.sandboxImage}`);
    emit(context, document, { ...document.kubeadm, preflight: result });
  },

  async init(context) {
    const { initCluster } = await import('./init.js');
    const document = await requireDocument(context);
    const { args } = context;
    const result = await initCluster(document, {
      ...runContext(context),
      config: configFromArgs(args),
      skipPreflight: args['skip-preflight'] === true,
      tokenTtl: str(args, 'token-ttl'),
    });
    reportActions(context, result.actions);
    emit(context, document, result.section);
  },

  async join(context) {
    const { joinNode } = await import('./join.js');
    const document = await requireDocument(context);
    const { args } = context;
    const result = await joinNode(document, {
      ...runContext(context),
      controlPlane: args['control-plane'] === true,
      tokenFile: str(args, 'token-file'),
      certificateKeyFile: str(args, 'certificate-key-file'),
      advertiseAddress: str(args, 'advertise-address'),
      nodeName: str(args, 'node-name'),
      criSocket: str(args, 'cri-socket'),
      kubeletArgs: strings(args, 'kubelet-arg'),
      skipPreflight: args['skip-preflight'] === true,
      cwd: context.io.cwd,
    });
    reportActions(context, result.actions);
    if (result.joined) context.log.info(`node ${result.section.joined?.node} joined ${result.section.joined?.apiServerEndpoint}`);
    emit(context, document, result.section);
  },

  async upgrade(context) {
    const { applyUpgrade, planUpgrade, upgradeNode } = await import('./upgrade.js');
    const document = await requireDocument(context);
    const { args } = context;
    const options = { ...runContext(context), nodeName: str(args, 'node-name'), adminKubeconfig: str(args, 'admin-kubeconfig') };
    const step = str(args, 'step');
    const run = step === 'apply' ? applyUpgrade : step === 'node' ? upgradeNode : planUpgrade;
    const result = await run(document, options);
    reportActions(context, result.actions);
    const upgrade = result.section.upgrade!;
    if (step !== 'plan' && args['dry-run'] !== true) context.log.info(`${upgrade.steps[0]?.node ?? 'this node'} now runs ${upgrade.to}: ${upgrade.steps.map((s) => `${s.step} ${s.status}`).join(', ')}`);
    emit(context, document, result.section);
  },

  async reset(context) {
    const { resetNode } = await import('./reset.js');
    const document = (await readDocument(context.io, { required: false, inPath: context.args.in })) ?? newDocument();
    const result = await resetNode(document, { ...runContext(context), keepIptables: context.args['keep-iptables'] === true });
    reportActions(context, result.actions);
    emit(context, document, result.section);
  },
};

function configure(parser: Argv): Argv {
  return parser
    .usage('$0 <command> [options] < document.json > document.json\n\nkubeadm for an air-gapped cluster: the configuration for the exact version, preflight, init, join, upgrade, reset.')
    .command('config', 'write the kubeadm configuration for the document\'s Kubernetes version', (y) => configOptions(y).option('root', sharedOption('root', '/ on a node; a chroot or a test directory otherwise', { default: '/' })).option('dry-run', { type: 'boolean', default: false, describe: 'compute it and write nothing' }))
    .command('preflight', 'check that every image kubeadm asks for is here and that containerd\'s sandbox image matches', (y) => hostOptions(y))
    .command('init', 'initialise the first control-plane node and emit the join information', (y) =>
      configOptions(hostOptions(y))
        .option('skip-preflight', { type: 'boolean', default: false, describe: 'do not check images and the sandbox image first' })
        .option('token-ttl', { type: 'string', default: '24h0m0s', describe: 'lifetime of the bootstrap token', requiresArg: true }),
    )
    .command('join', 'join this node with the join information in the document', (y) =>
      hostOptions(y)
        .option('control-plane', { type: 'boolean', default: false, describe: 'join as another control-plane node (needs a control-plane endpoint)' })
        .option('token-file', { type: 'string', describe: 'the bootstrap token file on this node (default: the document\'s path)', requiresArg: true })
        .option('certificate-key-file', { type: 'string', describe: 'the certificate key file on this node (--control-plane)', requiresArg: true })
        .option('advertise-address', { type: 'string', describe: 'this node\'s address (default: detected)', requiresArg: true })
        .option('node-name', { type: 'string', describe: 'this node\'s name (default: the hostname)', requiresArg: true })
        .option('cri-socket', { type: 'string', describe: 'the CRI socket (default: the document\'s)', requiresArg: true })
        .option('kubelet-arg', { type: 'string', array: true, describe: 'name=value for the kubelet (repeatable)', requiresArg: true })
        .option('skip-preflight', { type: 'boolean', default: false, describe: 'do not check images and the sandbox image first' }),
    )
    .command('upgrade <step>', 'upgrade to the unpacked bundle\'s version: plan (check, change nothing), apply (first control-plane node), node (every other node)', (y) =>
      hostOptions(y)
        .positional('step', { choices: ['plan', 'apply', 'node'] as const, describe: 'plan, apply or node' })
        .option('node-name', { type: 'string', describe: 'this node\'s name, to drain and uncordon (default: the document\'s, else the hostname)', requiresArg: true })
        .option('admin-kubeconfig', { type: 'string', describe: 'an admin kubeconfig for drain and uncordon where /etc/kubernetes/admin.conf is missing (workers)', requiresArg: true }),
    )
    .command('reset', 'tear this node down: kubeadm reset, flannel\'s CNI config and interfaces, the iptables rules the cluster owns', (y) =>
      hostOptions(y).option('keep-iptables', { type: 'boolean', default: false, describe: 'leave iptables alone' }),
    )
    .example('ag-kubeadm config --single-node < cluster.json > cluster.json.new', 'write /etc/kubernetes/ag/kubeadm-config.yaml for a one-node cluster')
    .example('ag-kubeadm init < cluster.json > cluster.json.new', 'initialise this node; the output carries the join information')
    .example('ag-kubeadm init --control-plane-endpoint k8s.example:6443 < cluster.json', 'the first node of an HA control plane')
    .example('ssh cp1 cat cluster.json | ag-kubeadm join --token-file ./join-token', 'join a worker with the token copied from cp1')
    .example('ag-kubeadm upgrade plan < unpacked.json > plan.json', 'after ag-bundle unpack and ag-images push of the next release: what changes, checked')
    .example('ag-kubeadm upgrade apply < plan.json > cluster.json', 'on the first control-plane node: kubeadm, upgrade apply, drain, kubelet, uncordon')
    .example('ag-kubeadm upgrade node --admin-kubeconfig ./admin.conf < cluster.json', 'on every other node, once the control plane runs the new version')
    .example('ag-kubeadm reset --dry-run < cluster.json > /dev/null', 'show what reset would remove');
}

/** Runs ag-kubeadm with `argv`; returns the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool({ name: 'ag-kubeadm', version: VERSION, configure, handlers, summaries }, argv, io);
}
