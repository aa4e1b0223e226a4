import { runProgram } from '@ag/core';
import { requireAction, runAction } from '../actions/run-command.js';
import type { Action, ActionEnv } from '../actions/types.js';
import { writeFileAction } from '../actions/write-file.js';
import { containerdConfig, containerdSettings } from '../containerd-config.js';
import { configVersionFor, detectContainerdVersion, fromBundleArchive, readsCniBinDirs } from '../containerd-version.js';
import type { StepCode, StepContext } from '../context.js';
import { nodeExists } from '../root-fs.js';
import { chooseSandboxImage, registryHost } from '../sandbox-image.js';
import { daemonReloadAction, enableUnitAction, unitIsActive } from '../systemd.js';
import { installableFiles } from './binaries.js';
import { bundleUnitActions, bundleUnits } from './bundle-units.js';
import { generatedHeader } from './header.js';

export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const CERTS_D = '/etc/containerd/certs.d';
export const CRICTL_CONFIG = '/etc/crictl.yaml';
export const CNI_BIN_DIR = '/opt/cni/bin';
export const CNI_CONF_DIR = '/etc/cni/net.d';
export const CONTAINERD_UNIT = 'containerd.service';

/**
 * What a containerd from the bundle's release archive (`ag-fetch plan
 * --containerd upstream`) changed in this run: its binaries, runc or its
 * unit. containerd keeps running its old binary until it restarts.
 */
function bundledRuntimeChanged(context: StepContext, changed: ReadonlySet<string>, units: readonly string[]): string | undefined {
  if (fromBundleArchive(context) === undefined) return undefined;
  const targets = installableFiles(context)
    .filter((f) => f.name === 'containerd' || f.name === 'runc')
    .map((f) => f.install?.extractTo ?? f.install?.path)
    .filter((t): t is string => t !== undefined);
  return [...targets, ...units].find((target) => changed.has(target));
}

/**
 * Registry trust is ag-registry's: `ag-registry trust` writes
 * certs.d/<upstream>/hosts.toml with the internal CA (it owns the CA, the
 * mirror list and any auth header). This step points containerd at certs.d
 * and, when the document names an internal registry, checks that every
 * upstream host the cluster pulls from has a hosts.toml; containerd reads
 * certs.d on each pull, so the order of the two commands does not matter.
 */
export const TRUST_NOTE = 'left to ag-registry trust (it writes certs.d/<upstream>/hosts.toml); containerd reads certs.d without a restart';

/** The upstream registry hosts the cluster's images come from. */
export function upstreamHosts(context: Pick<StepContext, 'document'>, sandboxImage: string | undefined): string[] {
  const refs = [
    ...(context.document?.images?.images ?? []).map((i) => i.ref),
    ...(context.document?.fetch?.images ?? []).map((i) => i.ref),
    ...(sandboxImage ? [sandboxImage] : []),
  ];
  return [...new Set(refs.map(registryHost))].sort();
}

/** What is wrong with containerd's CRI plugin on `address` (`ctr plugins ls`), or nothing when it is loaded. */
export async function criPluginProblems(env: Pick<ActionEnv, 'io'>, address: string): Promise<string[]> {
  const result = await runProgram('ctr', ['--address', address, 'plugins', 'ls'], {
    env: env.io.env,
    stderr: env.io.stderr,
    allowFailure: true,
    streamStderr: false,
  }).catch((error: unknown) => ({ exitCode: 1, stdout: '', stderr: (error as Error).message }));
  if (result.exitCode !== 0) return [`containerd does not answer on ${address}: ${result.stderr.trim().split('\n').pop() ?? ''}`];
  const line = result.stdout.split('\n').find((l) => /^io\.containerd\.grpc\.v1\s+cri\s/.test(l));
  return line !== undefined && /\sok\s*$/.test(line) ? [] : [`containerd's CRI plugin is not loaded (${line?.trim() ?? 'not listed'})`];
}

export const containerdStep: StepCode = {
  async plan(context) {
    const { root, options } = context;
    const detected = await detectContainerdVersion(context);
    const configVersion = configVersionFor(detected.version);
    const sandbox = chooseSandboxImage(context.document, options.sandboxImage);
    context.containerd = {
      ...(detected.version ? { version: detected.version } : {}),
      versionSource: detected.source,
      configVersion,
      configFile: CONTAINERD_CONFIG,
      ...(sandbox.image ? { sandboxImage: sandbox.image } : {}),
      cgroupDriver: options.cgroupDriver,
      registryConfigPath: CERTS_D,
      trust: TRUST_NOTE,
    };
    const configOptions = {
      configVersion,
      sandboxImage: sandbox.image,
      systemdCgroup: options.cgroupDriver === 'systemd',
      registryConfigPath: CERTS_D,
      cniBinDir: CNI_BIN_DIR,
      cniBinDirList: readsCniBinDirs(detected.version),
      cniConfDir: CNI_CONF_DIR,
      enableSelinux: options.selinux === 'enforcing' && (await nodeExists(root, '/etc/selinux/config')),
    };
    let notes: string[] = [];
    const config = await writeFileAction(
      {
        step: 'containerd',
        path: CONTAINERD_CONFIG,
        why: '',
        mode: 0o644,
        content: (current) => {
          const merged = containerdConfig(current, configOptions);
          notes = merged.notes;
          return merged.text;
        },
        explain(current) {
          try {
            const s = containerdSettings(current);
            const problems: string[] = [];
            if (s.version !== configVersion) problems.push(`containerd config is version ${s.version}, wanted ${configVersion} (containerd ${detected.version ?? 'of unknown version'})`);
            const off = s.disabled.filter((id) => ['cri', 'io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images', 'io.containerd.cri.v1.runtime'].includes(id));
            if (off.length > 0) problems.push(`containerd config disables the CRI (disabled_plugins = ${JSON.stringify(off)})`);
            if (s.systemdCgroup !== configOptions.systemdCgroup) problems.push(`containerd runc SystemdCgroup is ${s.systemdCgroup ?? 'unset'}, wanted ${configOptions.systemdCgroup}`);
            if (sandbox.image !== undefined && s.sandboxImage !== sandbox.image) problems.push(`containerd sandbox image is ${s.sandboxImage ?? 'unset'}, wanted ${sandbox.image}`);
            if (s.configPath !== CERTS_D) problems.push(`containerd registry config_path is ${s.configPath ?? 'unset'}, wanted ${CERTS_D}`);
            if (s.mirrors) problems.push('containerd config has inline registry mirrors (refused together with config_path)');
            return problems.length > 0 ? problems : [`${CONTAINERD_CONFIG} differs from what ag-nodeprep writes`];
          } catch (error) {
            return [`${CONTAINERD_CONFIG} is not valid TOML: ${(error as Error).message.split('\n')[0]}`];
          }
        },
      },
      root,
    );
    config.record.why = [
      `containerd ${detected.version ?? '(version unknown)'} from ${detected.source}: config version ${configVersion}`,
      `sandbox image ${sandbox.image ?? 'unchanged'} (${sandbox.source})`,
      `SystemdCgroup = ${configOptions.systemdCgroup}`,
      `config_path = ${CERTS_D}`,
      ...notes,
    ].join('; ');

    const unitFiles = bundleUnits(context, CONTAINERD_UNIT, 'only');
    const unitPaths = unitFiles.map((u) => u.install?.path).filter((p): p is string => p !== undefined);
    const actions: Action[] = [
      ...(await bundleUnitActions(context, unitFiles, 'containerd')),
      config,
      await writeFileAction(
        {
          step: 'containerd',
          path: CRICTL_CONFIG,
          why: 'crictl talks to containerd without flags (kubeadm and operators use it to debug the node)',
          mode: 0o644,
          content: `${generatedHeader('containerd', 'crictl talks to containerd')}runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\n`,
        },
        root,
      ),
    ];
    if (context.document?.registry !== undefined) {
      const hosts = upstreamHosts(context, sandbox.image);
      actions.push(
        requireAction({
          step: 'containerd',
          target: `${CERTS_D}/<host>/hosts.toml`,
          why: `registry trust: ${TRUST_NOTE}; hosts: ${hosts.join(', ')}`,
          async problems(env) {
            const missing: string[] = [];
            for (const host of hosts) if (!(await nodeExists(env.root, `${CERTS_D}/${host}/hosts.toml`))) missing.push(host);
            return missing.length === 0
              ? []
              : [`no ${CERTS_D}/<host>/hosts.toml for ${missing.join(', ')}: containerd would pull those from the internet`];
          },
          hint: `run ag-registry trust${root === '/' ? '' : ` --root ${root}`} on this node (it writes the hosts.toml files and the CA)`,
          onApply: 'warn',
        }),
      );
    }
    actions.push(
      enableUnitAction('containerd', 'containerd.service', 'start containerd at boot'),
      daemonReloadAction('containerd'),
      runAction({
        step: 'containerd',
        command: ['systemctl', 'restart', 'containerd.service'],
        why: 'containerd reads config.toml only when it starts',
        async due(env) {
          if (env.changed.has(CONTAINERD_CONFIG)) return `${CONTAINERD_CONFIG} changed in this run`;
          const runtime = bundledRuntimeChanged(context, env.changed, unitPaths);
          if (runtime !== undefined) return `${runtime} changed in this run (containerd from the bundle)`;
          return (await unitIsActive(env, 'containerd.service')) ? undefined : 'containerd is not running';
        },
      }),
      requireAction({
        step: 'containerd',
        target: 'CRI plugin',
        hostOnly: true,
        why: 'kubeadm and the kubelet talk to containerd through its CRI plugin',
        async problems(env) {
          // Right after a restart containerd may take a moment to load its plugins.
          const attempts = env.changed.has(CONTAINERD_CONFIG) && !env.preview ? 20 : 1;
          let problems: string[] = [];
          for (let i = 0; i < attempts; i++) {
            if (i > 0) await new Promise((r) => setTimeout(r, 500));
            problems = await criPluginProblems(env, options.containerdAddress);
            if (problems.length === 0) break;
          }
          return problems;
        },
        hint: 'read containerd\'s log (journalctl -u containerd) for why the CRI plugin failed, fix the config, and run apply again',
        judged: 'after',
      }),
    );
    return actions;
  },
};
