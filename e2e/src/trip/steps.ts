import { stringify } from 'yaml';
import { API_VERSION, SITE_KIND, type SiteFile } from '@ag/core';
import type { FarNode, World } from './world.js';

/**
 * One trip across the gap, defined once: the ordered steps, each with the
 * machine it runs on, the commands an operator types there (bash, run from
 * the side's working directory with the ag tools on PATH), what it reads and
 * writes, and what it checks. The netns driver (../scenario.ts) and the
 * Vagrant driver (../vagrant/driver.ts) both run exactly this list; where the
 * worlds differ, world.ts says how.
 */

/** Where a step runs: the connected machine, a carry between machines, or a far node. */
export type Place = { side: 'connected' } | { side: 'carry' } | { side: 'far'; node: FarNode };

export interface Step {
  /** Unique within a trip; the drivers and tests name steps by it. */
  id: string;
  place: Place;
  title: string;
  /** Run in order with bash -euo pipefail; none for a carry (the driver copies) or for a step the driver does itself (`local`). */
  commands: string[];
  /** For a carry: [from, to] pairs, `connected:PATH` or `NODE:PATH` (relative to that machine's working directory). */
  carry?: Array<[string, string]>;
  /** The netns driver does this step itself (starting containerd, writing the stand-in node tree): why. */
  local?: string;
  reads: string[];
  writes: string[];
  checks: string[];
}

/** The working directory of each side: every path in the steps is relative to it. */
export const WORKDIR = { vagrant: '/srv/ag' } as const;
export const CARRIED_BUNDLE = 'carry/bundle.tar';
export const CARRIED_DELTA = 'carry/delta.tar';
export const TRUST_ANCHOR = 'trust/ag-bundle.pub.pem';
export const SITE_FILE = 'site.yaml';
/** The far side's ag tools, put on PATH by steps/far-tools.sh. */
export const FAR_BIN = 'bin';
export const TRIP_TOOLS = ['ag-bundle', 'ag-fetch', 'ag-images', 'ag-nodeprep', 'ag-registry', 'ag-kubeadm', 'ag-flannel'] as const;

/** The cluster the trip carries: the classic v1.27.3 procedure with flannel and podinfo. */
export const CLUSTER = {
  cni: { name: 'flannel', version: 'v0.22.0' },
  chart: { repo: 'https://stefanprodan.github.io/podinfo', name: 'podinfo', version: '6.4.0' },
  appImage: 'ghcr.io/stefanprodan/podinfo:6.4.0',
} as const;

export function siteFile(kubernetesVersion: string, os: string, arch: string): SiteFile {
  return {
    apiVersion: API_VERSION,
    kind: SITE_KIND,
    metadata: { name: 'demo', description: `the classic ${kubernetesVersion} cluster with flannel and podinfo` },
    spec: {
      kubernetes: { version: kubernetesVersion },
      architectures: [arch as NonNullable<SiteFile['spec']['architectures']>[number]],
      os: { name: os },
      cni: { ...CLUSTER.cni },
      charts: [{ ...CLUSTER.chart }],
      images: [CLUSTER.appImage],
    },
  };
}

const line = (...words: Array<string | string[]>): string => words.flat().join(' ');
const far = (node: FarNode): Place => ({ side: 'far', node });

/** The connected side's pipeline for one release; `have` packs only what the far side lacks. */
function packSteps(world: World, version: string, dir: string, out: string, have?: string): string {
  return line(
    'ag-fetch plan --site', SITE_FILE, version === world.kubernetesVersion ? [] : ['--kubernetes-version', version], world.planFlags, '--dir', dir,
    '| ag-fetch download', world.downloadFlags,
    '| ag-images pull', world.pullFlags,
    '| ag-bundle pack --out', out, '--sign-key keys/ag-bundle.pem', world.packFlags, have === undefined ? [] : ['--have', have],
    '>', `${out}.json`,
  );
}

/** Bootstrap a far node from the carried bundle: tar, openssl and sha256sum check the executable before it runs; then unpack. */
function bootstrapSteps(world: World, node: FarNode): Step[] {
  return [
    {
      id: `${node.name}:no-node`,
      place: far(node),
      title: 'no Node.js here: command -v node nodejs',
      commands: ['for n in node nodejs; do if command -v "$n"; then exit 1; fi; done'],
      reads: [],
      writes: [],
      checks: ['the far node has no Node.js: the single executable carries its own'],
    },
    {
      id: `${node.name}:bootstrap`,
      place: far(node),
      title: 'bootstrap: openssl, sha256sum, ag-bundle verify',
      commands: [`mkdir -p doc && sh steps/far-bootstrap.sh ${CARRIED_BUNDLE} ${TRUST_ANCHOR} . > doc/verified.json`],
      reads: [CARRIED_BUNDLE, TRUST_ANCHOR],
      writes: ['boot/', 'doc/verified.json'],
      checks: ['tar, xz and openssl are there (named if missing)', 'SHA256SUMS signed by the trust anchor', "the executable's sum", 'every file of the bundle'],
    },
    {
      id: `${node.name}:unpack`,
      place: far(node),
      title: 'ag-bundle unpack; the ag tools on PATH',
      commands: [
        `boot/tools/${world.arch}/ag-bundle unpack ${CARRIED_BUNDLE} --dir bundle --key ${TRUST_ANCHOR} > doc/unpacked.json`,
        `sh steps/far-tools.sh bundle/tools/${world.arch}/ag ${FAR_BIN}`,
        'ag-bundle --version',
      ],
      reads: [CARRIED_BUNDLE, TRUST_ANCHOR],
      writes: ['bundle/', 'doc/unpacked.json', `${FAR_BIN}/`],
      checks: ['the signature and every sum again, while unpacking'],
    },
  ];
}

/** A node joins: its OS prepared from the bundle, the registry trusted, ag-kubeadm join. */
function joinSteps(world: World, node: FarNode, controlPlane: boolean): Step[] {
  const join = world.sharedFarDirectory ? 'doc/init.json' : 'carry/join/init.json';
  const tokenFile = world.sharedFarDirectory ? 'root/etc/kubernetes/ag/join-token' : 'carry/join/join-token';
  const doc = `doc/${node.name}`;
  return [
    {
      id: `${node.name}:prepare`,
      place: far(node),
      title: `${node.name}: ag-nodeprep apply | ag-registry trust`,
      local: world.kubelet ? undefined : 'the stand-in node tree (far-root.ts) is written first',
      commands: [
        ...(world.sharedFarDirectory ? [] : ['cp -R carry/join/registry .']),
        line('ag-nodeprep apply', world.rootFlags(node), world.nodeprepFlags(node), '<', join, '| ag-registry trust', world.rootFlags(node), '>', `${doc}-trusted.json`),
      ],
      reads: [join, 'bundle/'],
      writes: ['/etc/containerd', '/etc/kubernetes/resolv.conf', `${doc}-trusted.json`],
      checks: ['every blocker found before anything changes'],
    },
    {
      id: `${node.name}:join`,
      place: far(node),
      title: `${node.name}: ag-kubeadm join${controlPlane ? ' --control-plane' : ''}`,
      commands: [
        line(
          'ag-kubeadm join', world.hostRootFlags(node), world.kubeadmPrograms(node), '--token-file', tokenFile,
          controlPlane ? ['--control-plane', '--certificate-key-file', world.sharedFarDirectory ? 'root/etc/kubernetes/ag/certificate-key' : 'carry/join/certificate-key'] : [],
          '--node-name', node.name, '--advertise-address', node.address,
          '<', `${doc}-trusted.json`, '>', `${doc}-joined.json`,
        ),
      ],
      reads: [`${doc}-trusted.json`, tokenFile],
      writes: ['/etc/kubernetes/kubelet.conf', `${doc}-joined.json`],
      checks: ["the CA pin of the init document", 'the node becomes Ready (vagrant)'],
    },
  ];
}

/**
 * Every other node after `upgrade apply`, one at a time, control planes
 * before workers (kubernetes.io "Upgrading kubeadm clusters"): the delta
 * carried and unpacked onto its bundle, then `ag-kubeadm upgrade node`
 * (kubeadm first, kubeadm upgrade node, drain, kubelet and kubectl,
 * restart, uncordon) with the upgraded document, and the check from the
 * first control plane.
 */
function upgradeNodeSteps(world: World, first: FarNode, others: FarNode[]): Step[] {
  if (others.length === 0) return [];
  const gather: Step = {
    id: 'upgrade-files',
    place: far(first),
    title: 'gather what upgrade node needs: the upgraded document, an admin kubeconfig for drain',
    commands: ['sh steps/upgrade-files.sh doc/upgraded.json carry/upgrade-out'],
    reads: ['doc/upgraded.json', '/etc/kubernetes/admin.conf'],
    writes: ['carry/upgrade-out/'],
    checks: [],
  };
  const carry: Step = {
    id: 'carry-upgrade',
    place: { side: 'carry' },
    title: 'carry delta.tar, the upgraded document and the admin kubeconfig to every other node',
    commands: [],
    carry: others.flatMap((node): Array<[string, string]> => [
      ['connected:out/delta.tar', `${node.name}:${CARRIED_DELTA}`],
      [`${first.name}:carry/upgrade-out/`, `${node.name}:carry/upgrade/`],
    ]),
    reads: ['out/delta.tar', 'carry/upgrade-out/'],
    writes: [CARRIED_DELTA, 'carry/upgrade/'],
    checks: [],
  };
  // One far directory (netns): the delta is unpacked there already, the documents are side by side.
  const from = world.sharedFarDirectory ? { document: 'doc/upgraded.json', admin: 'root/etc/kubernetes/admin.conf' } : { document: 'carry/upgrade/upgraded.json', admin: 'carry/upgrade/admin.conf' };
  const perNode = others.flatMap((node): Step[] => [
    ...(world.sharedFarDirectory ? [] : [{
      id: `${node.name}:unpack-delta`,
      place: far(node),
      title: `${node.name}: ag-bundle unpack (delta onto the bundle)`,
      commands: [`ag-bundle unpack ${CARRIED_DELTA} --dir bundle --key ${TRUST_ANCHOR} > doc/next.json`],
      reads: [CARRIED_DELTA, TRUST_ANCHOR, 'bundle/'],
      writes: ['bundle/', 'doc/next.json'],
      checks: ['the signature and every sum, while unpacking'],
    }]),
    {
      id: `${node.name}:upgrade`,
      place: far(node),
      title: `${node.name}: ag-kubeadm upgrade node: kubeadm first, kubeadm upgrade node, drain, kubelet and kubectl, restart, uncordon`,
      commands: [
        line('ag-kubeadm upgrade node', world.hostRootFlags(node), world.kubeadmPrograms(node), '--node-name', node.name, '--admin-kubeconfig', from.admin, '<', from.document, '>', `doc/${node.name}-upgraded.json`),
      ],
      reads: [from.document, 'bundle/files/'],
      writes: ['/usr/local/bin/kubeadm', '/usr/local/bin/kubelet', '/usr/local/bin/kubectl', `doc/${node.name}-upgraded.json`],
      checks: ['the control plane runs the new release first'],
    },
    ...(!world.kubelet ? [] : [{
      id: `check:upgrade-${node.name}`,
      place: far(first),
      title: `${node.name}'s kubelet reports ${world.nextVersion}, schedulable again`,
      commands: [`sh steps/check-upgrade.sh ${node.name} ${world.nextVersion}`],
      reads: [],
      writes: [],
      checks: ["the node's kubelet version", 'uncordoned', 'podinfo still rolled out'],
    }]),
  ]);
  return world.sharedFarDirectory ? perNode : [gather, carry, ...perNode];
}

/** The Vagrant cluster checks (steps/check-*.sh): what only a running kubelet can show. */
function clusterChecks(world: World, node: FarNode): Step[] {
  const workers = world.topology.workers;
  const nodes = [...world.topology.controlPlanes, ...workers].map((n) => n.name).join(' ');
  return [
    {
      id: 'check:flannel',
      place: far(node),
      title: "flannel's pod Running on every node; a worker's pod reaches a control plane's pod",
      commands: [`sh steps/check-flannel.sh ${nodes}`, `sh steps/check-pod-network.sh ${workers[0]!.name} ${node.name} ${CLUSTER.appImage}`],
      reads: [],
      writes: [],
      checks: ['kube-flannel pod phase Running per node', 'wget from a pod on the worker to podinfo on the control plane'],
    },
    {
      id: 'check:dns',
      place: far(node),
      title: 'DNS stays inside the site: systemd-resolved off, resolv.conf the site\'s, a public name does not resolve from a pod',
      commands: [`sh steps/check-dns.sh ${world.topology.controlPlanes[0]!.address}`],
      reads: ['/etc/resolv.conf', '/etc/kubernetes/resolv.conf'],
      writes: [],
      checks: ['systemd-resolved inactive', 'both resolv.conf name only the site resolver', 'kubernetes.default resolves from a pod, dl.k8s.io does not'],
    },
  ];
}

/**
 * The whole trip: keygen, the site file, plan | download | pull | pack, the
 * carry, bootstrap and unpack on every far node, node prep, registry up,
 * trust, push, kubeadm config, preflight and init, flannel, Helm (VMs),
 * every other node's join, the cluster checks (VMs), and the next trip: the
 * far side's inventory back, a delta for the next release, verify, unpack,
 * push, and the upgrade in upstream's order (kubeadm first).
 */
export function tripSteps(world: World, os: string): Step[] {
  const [first, ...otherControlPlanes] = world.topology.controlPlanes as [FarNode, ...FarNode[]];
  const farNodes = [...world.topology.controlPlanes, ...world.topology.workers];
  const bootstrapped = world.sharedFarDirectory ? [first] : farNodes;
  const ha = world.topology.controlPlaneEndpoint !== undefined;
  // One control plane also runs the workloads (the classic procedure); three keep their taint.
  const configFlags = [
    ...(ha ? ['--control-plane-endpoint', world.topology.controlPlaneEndpoint!] : ['--single-node']),
    ...['--advertise-address', first.address, '--node-name', first.name],
    ...world.kubeletFlags,
    ...world.hostRootFlags(first),
  ];
  const steps: Step[] = [];
  const add = (...more: Step[]): number => steps.push(...more);

  add(
    {
      id: 'keygen',
      place: { side: 'connected' },
      title: 'ag-bundle keygen (once per site)',
      commands: ['mkdir -p keys out && ag-bundle keygen --out keys/ag-bundle.pem > keys/keygen.json'],
      reads: [],
      writes: ['keys/ag-bundle.pem', 'keys/ag-bundle.pub.pem'],
      checks: [],
    },
    {
      id: 'site',
      place: { side: 'connected' },
      title: 'the site file: the cluster described once',
      commands: [`cat > ${SITE_FILE} <<'EOF'\n${stringify(siteFile(world.kubernetesVersion, os, world.arch))}EOF`],
      reads: [],
      writes: [SITE_FILE],
      checks: [],
    },
    {
      id: 'pack',
      place: { side: 'connected' },
      title: `plan | download | pull | pack: ${world.kubernetesVersion}`,
      commands: [packSteps(world, world.kubernetesVersion, 'bundle', 'out/bundle.tar')],
      reads: [SITE_FILE, 'keys/ag-bundle.pem'],
      writes: ['bundle/', 'out/bundle.tar', 'out/bundle.tar.json'],
      checks: ['every file and image by its digest', 'the bundle signed'],
    },
    {
      id: 'carry',
      place: { side: 'carry' },
      title: 'carry bundle.tar across (and, once, the trust anchor and the step scripts)',
      commands: [],
      carry: bootstrapped.flatMap((node): Array<[string, string]> => [
        ['connected:out/bundle.tar', `${node.name}:${CARRIED_BUNDLE}`],
        ['connected:keys/ag-bundle.pub.pem', `${node.name}:${TRUST_ANCHOR}`],
        ['repo:e2e/vagrant/steps/', `${node.name}:steps/`],
      ]),
      reads: ['out/bundle.tar', 'keys/ag-bundle.pub.pem'],
      writes: [CARRIED_BUNDLE, TRUST_ANCHOR, 'steps/'],
      checks: ['the trust anchor\'s fingerprint, compared out of band'],
    },
    ...bootstrapSteps(world, first),
    {
      id: 'prepare',
      place: far(first),
      title: 'ag-nodeprep apply',
      local: world.kubelet ? undefined : 'the stand-in node tree (far-root.ts) is written first',
      commands: [line('ag-nodeprep apply', world.rootFlags(first), world.nodeprepFlags(first), '< doc/unpacked.json > doc/node.json')],
      reads: ['doc/unpacked.json', 'bundle/'],
      writes: ['/etc/containerd/config.toml', '/etc/kubernetes/resolv.conf', 'doc/node.json'],
      checks: ['every blocker found before anything changes'],
    },
  );
  if (world.packagesRoot !== undefined) {
    const { dir: root, flags } = world.packagesRoot;
    add({
      id: 'os-packages',
      place: far(first),
      title: `ag-nodeprep apply --root ${root}: the bundle's OS packages into a Debian root with no route out`,
      local: 'the cached debootstrap Debian 12 root (minbase) is extracted first: the stand-in tree has no dpkg database',
      commands: [
        line('ag-nodeprep apply --root', root, flags, '< doc/unpacked.json > doc/os-packages.json'),
        `chroot ${root} dpkg-query --show --showformat='\${db:Status-Status} \${Version}\\n' containerd`,
      ],
      reads: ['doc/unpacked.json', 'bundle/packages/'],
      writes: [`${root}/`, 'doc/os-packages.json'],
      checks: ["every package of the bundle's closure installed, from the bundle's repository alone"],
    });
  }
  if (world.siteRegistry === undefined) {
    add(
      {
        id: 'registry',
        place: far(first),
        title: 'ag-registry up (distribution)',
        commands: [line('ag-registry up', world.registryUpFlags, '< doc/node.json > doc/registry.json')],
        reads: ['doc/node.json', 'bundle/images/'],
        writes: ['registry/', 'doc/registry.json'],
        checks: ['the registry answers over TLS with its credentials'],
      },
      {
        id: 'trust',
        place: far(first),
        title: 'ag-registry trust',
        commands: [line('ag-registry trust', world.rootFlags(first), '< doc/registry.json > doc/trusted.json')],
        reads: ['doc/registry.json'],
        writes: ['/etc/containerd/certs.d/', 'doc/trusted.json'],
        checks: [],
      },
    );
  } else {
    const site = world.siteRegistry;
    add({
      id: 'trust',
      place: far(first),
      title: `ag-registry trust --registry ${site.target}`,
      commands: [line('ag-registry trust', world.rootFlags(first), '--registry', site.target, '--ca-file', site.caFile, '--credentials-file', site.credentialsFile, '< doc/node.json > doc/trusted.json')],
      reads: ['doc/node.json', site.caFile, site.credentialsFile],
      writes: ['/etc/containerd/certs.d/', 'doc/trusted.json'],
      checks: ["the site's registry answers with that CA and account"],
    });
  }
  add({
    id: 'push',
    place: far(first),
    title: 'ag-images push',
    commands: ['ag-images push < doc/trusted.json > doc/pushed.json'],
    reads: ['doc/trusted.json', 'bundle/images/'],
    writes: ['doc/pushed.json'],
    checks: ['every image by its digest in the registry'],
  },
  {
    id: 'registry-status',
    place: far(first),
    title: 'ag-registry status',
    commands: [world.siteRegistry ? 'ag-registry status < doc/pushed.json > doc/status.json' : 'ag-registry status --state-dir registry > doc/status.json'],
    reads: ['doc/pushed.json'],
    writes: ['doc/status.json'],
    checks: ["the bundle's images there"],
  });
  if (!world.kubelet) {
    add({
      id: 'containerd',
      place: far(first),
      title: 'containerd: pull and run podinfo',
      local: "no kubelet here: containerd, started with ag-nodeprep's config, pulls by upstream names through the mirrors and runs the podinfo stand-in",
      commands: [],
      reads: ['/etc/containerd/config.toml', '/etc/containerd/certs.d/'],
      writes: [],
      checks: ['podinfo pulled as ghcr.io/stefanprodan/podinfo:6.4.0 and run'],
    });
  }
  add(
    {
      id: 'kubeadm-config',
      place: far(first),
      title: 'ag-kubeadm config',
      commands: [
line('ag-kubeadm config', configFlags, '< doc/pushed.json > doc/kubeadm.json'),
      ],
      reads: ['doc/pushed.json'],
      writes: ['/etc/kubernetes/ag/kubeadm-config.yaml', 'doc/kubeadm.json'],
      checks: ['only images the registry has'],
    },
    {
      id: 'flannel-render',
      place: far(first),
      title: 'ag-flannel render',
      commands: [line('ag-flannel render', world.flannelFlags, world.siteRegistry ? ['--registry', 'internal'] : [], '< doc/kubeadm.json > doc/flannel.json')],
      reads: ['doc/kubeadm.json', 'bundle/files/manifests/kube-flannel.yml'],
      writes: ['bundle/rendered/kube-flannel.yml', 'doc/flannel.json'],
      checks: ['images pinned to digests the registry holds', 'an interface choice that holds on every node'],
    },
  );
  if (!world.kubelet) {
    add(
      {
        id: 'cluster-images',
        place: far(first),
        title: 'containerd: pull the cluster images',
        local: "no kubelet here: containerd pulls every image kubeadm's configuration and flannel's manifest name",
        commands: [],
        reads: ['doc/kubeadm.json', 'doc/flannel.json'],
        writes: [],
        checks: ['each pulled by the name the configuration gives'],
      },
      {
        id: 'kubeadm-double',
        place: far(first),
        title: 'kubeadm double and kubectl stand-in',
        local: "kubeadm cannot run here (no kubelet): the test kit's kubeadm double of the carried release, with a kubectl stand-in",
        commands: [],
        reads: [],
        writes: ['kubeadm-double/'],
        checks: [],
      },
    );
  }
  add(
    {
      id: 'preflight',
      place: far(first),
      title: 'ag-kubeadm preflight',
      // From the flannel document (the kubeadm one plus flannel's section): init's document then carries both to ag-flannel apply.
      commands: [line('ag-kubeadm preflight', world.hostRootFlags(first), world.kubeadmPrograms(first), '< doc/flannel.json > doc/preflight.json')],
      reads: ['doc/flannel.json'],
      writes: ['doc/preflight.json'],
      checks: ['every image kubeadm asks for is in containerd or the registry', "containerd's sandbox image"],
    },
    {
      id: 'init',
      place: far(first),
      title: `ag-kubeadm init${ha ? ' (HA: --upload-certs)' : ''}`,
      commands: [line('ag-kubeadm init', world.hostRootFlags(first), world.kubeadmPrograms(first), '< doc/preflight.json > doc/init.json')],
      reads: ['doc/preflight.json'],
      writes: ['/etc/kubernetes/', 'doc/init.json'],
      checks: ['the join information: token file, CA pin (and the certificate key, HA)'],
    },
  );
  if (world.kubelet) {
    add(
      {
        id: 'flannel-apply',
        place: far(first),
        title: 'ag-flannel apply',
        commands: ['ag-flannel apply < doc/init.json > doc/cluster.json'],
        reads: ['doc/init.json', 'bundle/rendered/kube-flannel.yml'],
        writes: ['doc/cluster.json'],
        checks: ['the nodes Ready, their flannel pods Running'],
      },
    );
  }
  const joining = [...otherControlPlanes.map((node) => [node, true] as const), ...world.topology.workers.map((node) => [node, false] as const)];
  if (!world.sharedFarDirectory) {
    add({
      id: 'join-files',
      place: far(first),
      title: 'gather what a joining node needs',
      commands: ['sh steps/join-files.sh doc/init.json carry/join-out'],
      reads: ['doc/init.json', 'registry/certs/ca.crt', 'registry/auth/credentials'],
      writes: ['carry/join-out/'],
      checks: [],
    });
    add({
      id: 'carry-join',
      place: { side: 'carry' },
      title: 'carry the init document, the join token, the certificate key (HA) and the registry\'s CA and credentials to the joining nodes',
      commands: [],
      carry: joining.flatMap(([node]): Array<[string, string]> => [[`${first.name}:carry/join-out/`, `${node.name}:carry/join/`]]),
      reads: ['doc/init.json'],
      writes: ['carry/join/'],
      checks: [],
    });
  }
  for (const [node, controlPlane] of joining) {
    if (!world.sharedFarDirectory) add(...bootstrapSteps(world, node));
    add(...joinSteps(world, node, controlPlane));
  }
  // After the joins: an HA control plane keeps its taint, so podinfo runs on a worker.
  add({
    id: 'helm',
    place: far(first),
    title: 'helm install podinfo (the chart from the bundle, the image by its upstream name through the mirror)',
    local: world.kubelet ? undefined : 'no cluster here: the helm double (helm-double.ts) holds helm upgrade\'s input rules and has containerd pull and run the image the chart names',
    commands: [`helm upgrade --install podinfo bundle/files/charts/${CLUSTER.chart.name}-${CLUSTER.chart.version}.tgz --wait --timeout 5m`],
    reads: [`bundle/files/charts/${CLUSTER.chart.name}-${CLUSTER.chart.version}.tgz`],
    writes: [],
    checks: ['the chart carried, its image pulled by its upstream name'],
  });
  if (world.kubelet) {
    add({
      id: 'check:podinfo',
      place: far(first),
      title: 'podinfo Running with its upstream image name',
      commands: [`test "$(kubectl get pods -l app.kubernetes.io/name=podinfo -o jsonpath='{.items[0].spec.containers[0].image}')" = ${CLUSTER.appImage}`],
      reads: [],
      writes: [],
      checks: ['podinfo Running with its upstream image name'],
    });
  }
  if (world.kubelet) add(...clusterChecks(world, first));

  // The next trip: only the difference crosses.
  add(
    {
      id: 'inventory',
      place: far(first),
      title: 'ag-bundle inventory (what the far side has)',
      commands: ['mkdir -p back && ag-bundle inventory --dir bundle --out back/inventory.json'],
      reads: ['bundle/'],
      writes: ['back/inventory.json'],
      checks: [],
    },
    {
      id: 'carry-back',
      place: { side: 'carry' },
      title: 'carry inventory.json back',
      commands: [],
      carry: [[`${first.name}:back/inventory.json`, 'connected:in/inventory.json']],
      reads: ['back/inventory.json'],
      writes: ['in/inventory.json'],
      checks: [],
    },
    {
      id: 'pack-delta',
      place: { side: 'connected' },
      title: `plan | download | pull | pack: ${world.nextVersion} (delta)`,
      commands: [packSteps(world, world.nextVersion, `bundle-${world.nextVersion}`, 'out/delta.tar', 'in/inventory.json')],
      reads: [SITE_FILE, 'in/inventory.json'],
      writes: ['out/delta.tar', 'out/delta.tar.json'],
      checks: ['nothing the far side has is packed again'],
    },
    {
      id: 'carry-delta',
      place: { side: 'carry' },
      title: 'carry delta.tar across',
      commands: [],
      carry: [['connected:out/delta.tar', `${first.name}:${CARRIED_DELTA}`]],
      reads: ['out/delta.tar'],
      writes: [CARRIED_DELTA],
      checks: [],
    },
    {
      id: 'unpack-delta',
      place: far(first),
      title: 'ag-bundle verify and unpack (delta onto the bundle); sha256sum -c SHA256SUMS',
      commands: [
        `ag-bundle verify ${CARRIED_DELTA} --key ${TRUST_ANCHOR} > doc/next-verified.json`,
        `ag-bundle unpack ${CARRIED_DELTA} --dir bundle --key ${TRUST_ANCHOR} > doc/next.json`,
        '(cd bundle && sha256sum --quiet --strict -c SHA256SUMS)',
      ],
      reads: [CARRIED_DELTA, TRUST_ANCHOR, 'bundle/'],
      writes: ['bundle/', 'doc/next.json'],
      checks: ['the whole new bundle by its sums'],
    },
    {
      id: 'push-delta',
      place: far(first),
      title: 'ag-images push (delta)',
      // The registry and its account as the first trip's push recorded them.
      commands: [line('ag-images push --registry', world.registry.target, '--ca-file', world.registry.caFile, '--credentials-file', world.registry.credentialsFile, '< doc/next.json > doc/next-pushed.json')],
      reads: ['doc/next.json', 'doc/pushed.json'],
      writes: ['doc/next-pushed.json'],
      checks: ['only the new blobs go'],
    },
  );
  add(
    {
      id: 'next-images',
      place: far(first),
      title: `the ${world.nextVersion} images into containerd, by their upstream names through the mirrors`,
      local: world.kubelet ? undefined : 'no CRI here: ctr pulls them through the same certs.d mirrors',
      // The new kubeadm from the bundle, before anything is installed: upstream's optional first step.
      commands: world.kubelet ? [`bundle/files/linux/${world.arch}/kubeadm config images pull --kubernetes-version ${world.nextVersion} --cri-socket unix:///var/run/containerd/containerd.sock`] : [],
      reads: ['bundle/files/'],
      writes: [],
      checks: ['each image pulled by its upstream name'],
    },
    {
      id: 'kubeadm-config-next',
      place: far(first),
      title: `ag-kubeadm config for ${world.nextVersion}`,
      commands: [line('ag-kubeadm config', configFlags, '< doc/next-pushed.json > doc/next-kubeadm.json')],
      reads: ['doc/next-pushed.json'],
      writes: ['/etc/kubernetes/ag/kubeadm-config.yaml', 'doc/next-kubeadm.json'],
      checks: ['only images the registry has'],
    },
    {
      id: 'upgrade-plan',
      place: far(first),
      title: `ag-kubeadm upgrade plan: ${world.kubernetesVersion} to ${world.nextVersion}, changing nothing`,
      commands: [line('ag-kubeadm upgrade plan', world.hostRootFlags(first), world.kubeadmPrograms(first), '< doc/next-kubeadm.json > doc/upgrade-plan.json')],
      reads: ['doc/next-kubeadm.json'],
      writes: ['doc/upgrade-plan.json'],
      checks: ['the skew allowed', "every image of the new release in containerd", "upstream's order of steps"],
    },
  );
  if (!world.kubelet) {
    add({
      id: 'next-kubeadm-double',
      place: far(first),
      title: `kubeadm double of ${world.nextVersion} on every node, a systemctl stand-in`,
      local: `ag-kubeadm runs the kubeadm double named by --kubeadm, not the bundle's new kubeadm it installs: the double of ${world.nextVersion} stands for it; no systemd here, so a systemctl stand-in takes daemon-reload and restart kubelet`,
      commands: [],
      reads: [],
      writes: ['kubeadm-double/', `${FAR_BIN}/systemctl`],
      checks: [],
    });
  }
  add({
    id: 'upgrade',
    place: far(first),
    title: `ag-kubeadm upgrade apply ${world.nextVersion}: kubeadm first, kubeadm upgrade apply, drain, kubelet and kubectl, restart, uncordon`,
    commands: [
      line('ag-kubeadm upgrade apply', world.hostRootFlags(first), world.kubeadmPrograms(first), '< doc/upgrade-plan.json > doc/upgraded.json'),
      ...(world.kubelet ? [`sh steps/check-upgrade.sh ${first.name} ${world.nextVersion}`] : []),
    ],
    reads: ['doc/upgrade-plan.json', 'bundle/files/'],
    writes: ['/usr/local/bin/kubeadm', '/usr/local/bin/kubelet', '/usr/local/bin/kubectl', 'doc/upgraded.json'],
    checks: world.kubelet ? ['the API server and the kubelet report the new release', 'podinfo still rolled out'] : ['every step done, in upstream\'s order'],
  });
  add(...upgradeNodeSteps(world, first, [...otherControlPlanes, ...world.topology.workers]));
  add({
    id: 'leak',
    place: far(first),
    title: 'did anything leave the far side?',
    local: world.kubelet ? undefined : 'the black hole of the far namespace is counted from outside it (gap.ts)',
    commands: world.kubelet ? farNodes.map((node) => `sh steps/check-blackhole.sh ${node.name}`) : [],
    reads: [],
    writes: [],
    checks: ['no packet into the black hole', 'the control probe is counted'],
  });
  return steps;
}
