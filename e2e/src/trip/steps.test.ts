import { Value } from '@sinclair/typebox/value';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SiteFileSchema } from '@ag/core';
import { tripSteps, type Step } from './steps.js';
import { labNetRegex, netnsWorld, vagrantMachines, vagrantWorld, type World } from './world.js';

const netns = (ha = false, osPackages = false): World =>
  netnsWorld({ arch: 'amd64', filesUrl: 'http://127.0.0.1:8080', registryHost: '127.0.0.1:5001', registryCaFile: '/x/ca.crt', registryListen: '127.0.0.1:5000', registryName: 'registry.ag.internal', registryEndpoint: 'registry.ag.internal:5000', ha, osPackages });
const vagrant = (ha = false, workers = 1): World => vagrantWorld({ os: 'fedora-37', labNet: '192.168.56', ha, workers });
const ids = (steps: Step[]): string[] => steps.map((s) => s.id);
const commandsOf = (steps: Step[], id: string): string[] => steps.find((s) => s.id === id)?.commands ?? [];

describe('the trip, one definition for both worlds', () => {
  it('runs the same ag steps in the same order in both worlds; each world adds only what it alone can do, and says why', () => {
    const here = tripSteps(netns(), 'debian-12');
    const there = tripSteps(vagrant(), 'fedora-37');
    // Per-node ids carry the node's name, which differs by world: compare by role.
    const roles: Record<string, string> = { 'ag-far': 'control-plane-1', airgap: 'control-plane-1', 'ag-far-w1': 'worker-1', worker: 'worker-1' };
    const kind = (id: string): string => id.replace(/^([^:]+):(no-node|bootstrap|unpack|prepare|join|upgrade)$/, (_, node: string, what: string) => `${roles[node] ?? node}:${what}`);
    const shared = ids(here).map(kind).filter((id) => ids(there).map(kind).includes(id));
    expect(ids(there).map(kind).filter((id) => shared.includes(id))).toEqual(shared);
    for (const id of ['keygen', 'site', 'pack', 'carry', 'prepare', 'registry', 'trust', 'push', 'registry-status', 'kubeadm-config', 'flannel-render', 'preflight', 'init', 'helm', 'inventory', 'carry-back', 'pack-delta', 'carry-delta', 'unpack-delta', 'push-delta', 'upgrade', 'worker-1:upgrade', 'leak']) {
      expect(shared, id).toContain(id);
    }
    // What only the netns world does is done by its driver, and the scenario says why.
    for (const step of here.filter((s) => !ids(there).map(kind).includes(kind(s.id)))) expect(step.local, step.id).toEqual(expect.any(String));
    // What only the VMs do needs a kubelet (or a node of its own, to bootstrap and carry to).
    const vmOnly = ids(there).filter((id) => !shared.includes(kind(id)));
    expect(vmOnly).toEqual(['flannel-apply', 'join-files', 'carry-join', 'worker:no-node', 'worker:bootstrap', 'worker:unpack', 'check:podinfo', 'check:flannel', 'check:dns', 'upgrade-files', 'carry-upgrade', 'worker:unpack-delta', 'check:upgrade-worker']);
  });

  it('gives both worlds the same tool commands, differing only in the flags world.ts names', () => {
    const here = tripSteps(netns(), 'debian-12');
    const there = tripSteps(vagrant(), 'fedora-37');
    // Program and subcommand, not a flag's value (--kubectl kubeadm-double/kubectl).
    const verbs = (command: string): string[] => [...command.matchAll(/(?<![-/])\b(ag-[a-z]+ [a-z]+|helm [a-z]+|kubectl [a-z]+)/g)].map((m) => m[1]!);
    for (const step of here.filter((s) => s.commands.length > 0)) {
      const other = there.find((s) => s.id === step.id);
      if (other === undefined) continue;
      expect(other.commands.flatMap(verbs), step.id).toEqual(step.commands.flatMap(verbs));
    }
    expect(commandsOf(there, 'prepare')[0]).toBe('ag-nodeprep apply --resolved disable --nameserver 192.168.56.11 < doc/unpacked.json > doc/node.json');
    expect(commandsOf(here, 'prepare')[0]).toBe('ag-nodeprep apply --root root --cgroup-driver cgroupfs --skip packages < doc/unpacked.json > doc/node.json');
  });

  it('with OS packages (npm run demo -- --with-os-packages), downloads them and installs them into a Debian root of their own right after prepare', () => {
    const without = tripSteps(netns(), 'debian-12');
    const withPackages = tripSteps(netns(false, true), 'debian-12');
    expect(commandsOf(without, 'pack')[0]).toContain('| ag-fetch download --no-os-packages |');
    expect(ids(without)).not.toContain('os-packages');
    for (const id of ['pack', 'pack-delta']) expect(commandsOf(withPackages, id)[0], id).toContain('| ag-fetch download | ag-images pull');
    expect(ids(withPackages).slice(ids(withPackages).indexOf('prepare'), ids(withPackages).indexOf('prepare') + 2)).toEqual(['prepare', 'os-packages']);
    const step = withPackages.find((s) => s.id === 'os-packages')!;
    expect(step.local).toEqual(expect.any(String));
    // No --skip: every step of ag-nodeprep that applies to that root, the packages first.
    expect(step.commands[0]).toBe('ag-nodeprep apply --root debian-root --cgroup-driver cgroupfs < doc/unpacked.json > doc/os-packages.json');
    expect(step.commands[1]).toContain('chroot debian-root dpkg-query');
    // The Vagrant world installs them in its prepare step, on the node itself.
    expect(ids(tripSteps(vagrant(), 'fedora-37'))).not.toContain('os-packages');
  });

  it('writes a valid site file for either OS', () => {
    for (const [world, os] of [[netns(), 'debian-12'], [vagrant(), 'fedora-37']] as const) {
      const heredoc = commandsOf(tripSteps(world, os), 'site')[0]!;
      const yaml = heredoc.split('\n').slice(1, -1).join('\n');
      const site = parse(yaml) as unknown;
      expect([...Value.Errors(SiteFileSchema, site)]).toEqual([]);
      expect(site).toMatchObject({ spec: { os: { name: os }, kubernetes: { version: world.kubernetesVersion } } });
    }
    // The lab carries a supported Kubernetes with containerd and runc from their releases (neither box's own containerd runs it); the demo, v1.27.3 on the host's.
    expect(vagrant().kubernetesVersion).toBe('v1.36.3');
    expect(commandsOf(tripSteps(vagrant(), 'debian-12'), 'pack')[0]).toContain('--containerd upstream');
    expect(commandsOf(tripSteps(netns(), 'debian-12'), 'pack')[0]).not.toContain('--containerd');
  });
});

describe('the Vagrant defects, caught by the scenario', () => {
  it("renders flannel with an interface choice that holds on every VM, not an address only one of them has", () => {
    for (const [ha, workers] of [[false, 1], [true, 2]] as const) {
      const world = vagrant(ha, workers);
      const render = commandsOf(tripSteps(world, 'fedora-37'), 'flannel-render')[0]!;
      expect(render).not.toMatch(/--iface\s/);
      const regex = render.match(/--iface-regex (\S+)/)![1]!;
      expect(regex).toBe(labNetRegex('192.168.56'));
      // Go's RE2 and JavaScript agree on this one (anchors, escaped dots): it matches each far node's lab address.
      for (const node of [...world.topology.controlPlanes, ...world.topology.workers]) expect(node.address).toMatch(new RegExp(regex));
      // And not the provider's management network (10.0.2.15 on VirtualBox, 192.168.121.x on libvirt).
      for (const address of ['10.0.2.15', '192.168.121.34']) expect(address).not.toMatch(new RegExp(regex));
    }
  });

  it('checks on the VMs that flannel runs on every node and that a worker pod reaches a control-plane pod', () => {
    const world = vagrant(true, 2);
    const check = commandsOf(tripSteps(world, 'fedora-37'), 'check:flannel');
    expect(check[0]).toBe('sh steps/check-flannel.sh cp1 cp2 cp3 worker1 worker2');
    expect(check[1]).toMatch(/^sh steps\/check-pod-network\.sh worker1 cp1 /);
  });

  it('keeps DNS inside the site: systemd-resolved disabled, the site resolver only, and a check from a pod', () => {
    const steps = tripSteps(vagrant(), 'fedora-37');
    for (const step of steps.filter((s) => s.id.endsWith('prepare'))) expect(step.commands.join('\n')).toMatch(/ag-nodeprep apply --resolved disable --nameserver 192\.168\.56\.11 /);
    expect(commandsOf(steps, 'check:dns')).toEqual(['sh steps/check-dns.sh 192.168.56.11']);
  });

  it('bootstraps every VM with far-bootstrap.sh, which names a missing tar, xz or openssl', () => {
    const steps = tripSteps(vagrant(), 'fedora-37');
    for (const node of ['airgap', 'worker']) expect(commandsOf(steps, `${node}:bootstrap`)[0]).toMatch(/sh steps\/far-bootstrap\.sh /);
  });

  it("upgrades in upstream's order: nothing installs the new kubelet before ag-kubeadm upgrade apply (kubeadm first, then drain, kubelet, kubectl, restart, uncordon)", () => {
    const steps = tripSteps(vagrant(), 'fedora-37');
    const after = steps.slice(ids(steps).indexOf('unpack-delta'));
    const commands = after.flatMap((s) => s.commands);
    const upgrade = commands.findIndex((c) => c.startsWith('ag-kubeadm upgrade apply'));
    expect(upgrade).toBeGreaterThan(0);
    // ag-nodeprep apply would install the new bundle's kubelet and kubectl first, and kubeadm upgrade apply after them.
    for (const command of commands.slice(0, upgrade)) expect(command).not.toMatch(/ag-nodeprep apply|systemctl restart kubelet|kubeadm upgrade apply|install .*kubelet/);
  });

  it("upgrades every other node after upgrade apply, one at a time, control planes first, and installs no node's kubelet before its own upgrade node", () => {
    for (const world of [vagrant(false, 1), vagrant(true, 2), netns(false), netns(true)]) {
      const steps = tripSteps(world, 'fedora-37');
      const upgrades = steps.flatMap((s) => s.commands.filter((c) => /^ag-kubeadm upgrade (apply|node)/.test(c)).map((c) => [s, c] as const));
      const farNodes = [...world.topology.controlPlanes, ...world.topology.workers];
      // One upgrade per node, in the topology's order: the first control plane's apply, then the other control planes, then the workers.
      expect(upgrades.map(([s]) => (s.place.side === 'far' ? s.place.node.name : s.place.side))).toEqual(farNodes.map((n) => n.name));
      expect(upgrades[0]![1]).toMatch(/^ag-kubeadm upgrade apply /);
      for (const [, command] of upgrades.slice(1)) expect(command).toMatch(/^ag-kubeadm upgrade node .*--node-name \S+ --admin-kubeconfig \S+admin\.conf /);
      // Between the delta's unpacking and a node's own upgrade, nothing on that node installs the new kubelet or restarts it.
      const start = ids(steps).indexOf('unpack-delta');
      for (const node of farNodes) {
        const mine = steps.slice(start).filter((s) => s.place.side === 'far' && s.place.node.name === node.name).flatMap((s) => s.commands);
        const own = mine.findIndex((c) => /^ag-kubeadm upgrade (apply|node)/.test(c));
        expect(own, node.name).toBeGreaterThanOrEqual(0);
        for (const command of mine.slice(0, own)) expect(command, node.name).not.toMatch(/ag-nodeprep apply|systemctl restart kubelet|kubeadm upgrade (apply|node)|install .*kubelet/);
      }
      // Every node is checked at the new release afterwards.
      if (world.kubelet) for (const node of farNodes.slice(1)) expect(commandsOf(steps, `check:upgrade-${node.name}`)).toEqual([`sh steps/check-upgrade.sh ${node.name} ${world.nextVersion}`]);
    }
  });

  it('lays the HA topology out as the Vagrantfile does: three control planes behind lb, the endpoint in kubeadm config, control-plane joins with the certificate key', () => {
    const world = vagrant(true, 2);
    expect(vagrantMachines('192.168.56', world.topology).map((m) => `${m.name}=${m.address}`)).toEqual([
      'connected=192.168.56.10', 'lb=192.168.56.20', 'cp1=192.168.56.11', 'cp2=192.168.56.12', 'cp3=192.168.56.13', 'worker1=192.168.56.21', 'worker2=192.168.56.22',
    ]);
    const steps = tripSteps(world, 'fedora-37');
    expect(commandsOf(steps, 'kubeadm-config')[0]).toMatch(/--control-plane-endpoint 192\.168\.56\.20:6443/);
    expect(commandsOf(steps, 'cp2:join')[0]).toMatch(/ag-kubeadm join --token-file carry\/join\/join-token --control-plane --certificate-key-file carry\/join\/certificate-key --node-name cp2/);
    expect(commandsOf(steps, 'worker1:join')[0]).not.toMatch(/--control-plane/);
  });
});
