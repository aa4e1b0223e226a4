import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { createStandIns, kubeadmDoubleBody, kubectlStandIn } from '@ag/fixtures';
import { main } from './cli.js';
import { removeOwnedRules } from './iptables.js';
import { clusterDocument } from './testdata/documents.js';
import { addNodeStandIns } from './testdata/stand-ins.js';

// What kube-proxy and flannel leave in the nat table, next to an operator's own rule.
const NAT = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:FLANNEL-POSTRTG - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
:SITE-NAT - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -j SITE-NAT
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A SITE-NAT -d 192.0.2.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.2:8080
COMMIT
`;

describe('removeOwnedRules', () => {
  it("drops kube-proxy's, flannel's and CNI's chains and every rule in or jumping to them, and keeps the rest", () => {
    const result = removeOwnedRules(NAT);
    expect(result.removedChains).toEqual(['FLANNEL-POSTRTG', 'KUBE-POSTROUTING', 'KUBE-SERVICES']);
    expect(result.removedRules).toBe(6);
    expect(result.text).toContain('-A PREROUTING -j SITE-NAT');
    expect(result.text).toContain(':SITE-NAT - [0:0]');
    expect(result.text).toContain('-A SITE-NAT -d 192.0.2.1/32');
    expect(result.text).not.toMatch(/KUBE-|FLANNEL-/);
  });
});

function canUseNetns(): boolean {
  try {
    execFileSync('ip', ['netns', 'add', `ag-probe-${process.pid}`], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', `ag-probe-${process.pid}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!canUseNetns())('ag-kubeadm reset (real iptables in a network namespace)', () => {
  const ns = `ag-reset-${process.pid}`;
  const inNs = (...args: string[]): string => execFileSync('ip', ['netns', 'exec', ns, ...args]).toString();

  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'iptables-restore'], { input: NAT });
    inNs('ip', 'link', 'add', 'cni0', 'type', 'bridge');
    inNs('ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '8472');
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', ns]);
  });

  it("runs kubeadm reset, removes flannel's CNI config and interfaces, the cluster's iptables rules and the join secrets, and keeps the operator's", async () => {
    const root = await mkdtemp(join(tmpdir(), 'ag-kubeadm-reset-'));
    const cluster = await mkdtemp(join(tmpdir(), 'ag-kubeadm-cluster-'));
    const standIns = await addNodeStandIns(await createStandIns(), {
      kubeadm: await kubeadmDoubleBody({ version: 'v1.27.3', root, cluster }),
      kubectl: kubectlStandIn(cluster),
    });
    // iptables, ip6tables and ip act inside the namespace: the real programs, never this machine's own rules.
    for (const tool of ['iptables-save', 'iptables-restore', 'ip6tables-save', 'ip6tables-restore']) {
      await standIns.add(tool, `exec ip netns exec ${ns} /usr/sbin/${tool} "$@"`);
    }
    await standIns.add('ip', `exec /usr/sbin/ip netns exec ${ns} /usr/sbin/ip "$@"`);
    await mkdir(join(root, 'etc/cni/net.d'), { recursive: true });
    await writeFile(join(root, 'etc/cni/net.d/10-flannel.conflist'), '{}');
    await writeFile(join(root, 'etc/cni/net.d/99-site.conf'), '{}');
    await mkdir(join(root, 'etc/kubernetes/ag'), { recursive: true });
    await writeFile(join(root, 'etc/kubernetes/ag/join-token'), 'abcdef.0123456789abcdef\n');
    await writeFile(join(root, 'etc/kubernetes/ag/kubeadm-config.yaml'), 'kept');
    const document: AgDocument = { ...clusterDocument('v1.27.3') };

    const dry = createTestIo({ stdin: JSON.stringify(document), env: standIns.env() });
    expect(await main(['reset', '--dry-run', '--root', root], dry)).toBe(0);
    expect(dry.stderrText()).toContain('"action":"remove-iptables-rules","target":"iptables: 3 chain(s) and 6 rule(s)');
    expect(inNs('iptables-save', '-t', 'nat')).toContain('KUBE-SERVICES');

    const io = createTestIo({ stdin: JSON.stringify(document), env: standIns.env() });
    expect(await main(['reset', '--root', root], io)).toBe(0);
    const calls = await standIns.calls();
    expect(calls.filter((c) => !c.startsWith('ip ') && !c.includes('-save') && !c.includes('-restore'))).toEqual([
      'kubeadm reset --force --cri-socket unix:///var/run/containerd/containerd.sock',
    ]);
    expect(calls).toContain('ip link delete cni0');
    expect(calls).toContain('ip link delete flannel.1');
    const nat = inNs('iptables-save', '-t', 'nat');
    expect(nat).not.toMatch(/KUBE-|FLANNEL-/);
    expect(nat).toContain('-A SITE-NAT -d 192.0.2.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.2:8080');
    expect(inNs('ip', '-o', 'link')).not.toMatch(/cni0|flannel/);
    expect(await readdir(join(root, 'etc/cni/net.d'))).toEqual(['99-site.conf']);
    expect(await readdir(join(root, 'etc/kubernetes/ag'))).toEqual(['kubeadm-config.yaml']);
    expect(JSON.parse(io.stdoutText())).toEqual(document);
  });
});
