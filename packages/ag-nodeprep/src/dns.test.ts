import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { FEDORA_37, RESOLVED_RUNNING, RESOLV_CONF_STATES, writeBundle, writeTree, type Tree } from './testing/node-roots.js';
import { listTree, run } from './testing/run.js';

const HEAD = (why: string, source: string): string =>
  `# Written by ag-nodeprep (step dns): ${why} (nameservers from ${source}).\n# ag-nodeprep apply rewrites this file; change its options instead of editing here.\n`;
const KUBELET = (source: string, body: string): string => `644 ${HEAD("the kubelet's resolv.conf: the site's nameservers for pods and CoreDNS", source)}${body}`;
const HOST = (source: string, body: string): string => `644 ${HEAD('a plain resolv.conf for this host', source)}${body}`;

const OTHER_STEPS = 'packages,modules,sysctl,swap,selinux,firewall,iptables,binaries,kubelet,containerd,preload';
const RESOLVED_ENABLED = 'etc/systemd/system/multi-user.target.wants/systemd-resolved.service';
const STUB_LINK = '-> ../run/systemd/resolve/stub-resolv.conf';
const UPSTREAM_LINK = '-> ../run/systemd/resolve/resolv.conf';
const OUTSIDE = '203.0.113.53';

interface Case {
  running: boolean;
  resolvConf: keyof typeof RESOLV_CONF_STATES;
  nameserver: boolean;
  /** What follows: the exit code, the kubelet's file, /etc/resolv.conf, systemd-resolved still enabled, nodeprep.dns. */
  code: number;
  kubelet?: string;
  host: string;
  resolvedEnabled: boolean;
  dns?: { nameservers: string[]; source: string };
  stderr?: string;
}

// Every combination: systemd-resolved running or not; /etc/resolv.conf a link to its stub, to its upstream list, or a plain file; --nameserver or not.
const CASES: Case[] = [
  { running: true, resolvConf: 'stub', nameserver: true, code: 0, kubelet: KUBELET('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), host: HOST('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), resolvedEnabled: false, dns: { nameservers: ['10.0.0.53'], source: '--nameserver' } },
  { running: true, resolvConf: 'stub', nameserver: false, code: 0, kubelet: KUBELET('/run/systemd/resolve/resolv.conf', `nameserver 192.0.2.53\nnameserver ${OUTSIDE}\nsearch site.internal\n`), host: HOST('/run/systemd/resolve/resolv.conf', `nameserver 192.0.2.53\nnameserver ${OUTSIDE}\nsearch site.internal\n`), resolvedEnabled: false, dns: { nameservers: ['192.0.2.53', OUTSIDE], source: '/run/systemd/resolve/resolv.conf' }, stderr: `the nameservers 192.0.2.53, ${OUTSIDE} are what systemd-resolved forwards to now` },
  { running: true, resolvConf: 'upstream', nameserver: true, code: 0, kubelet: KUBELET('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), host: HOST('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), resolvedEnabled: false, dns: { nameservers: ['10.0.0.53'], source: '--nameserver' } },
  { running: true, resolvConf: 'upstream', nameserver: false, code: 0, kubelet: KUBELET('/run/systemd/resolve/resolv.conf', `nameserver 192.0.2.53\nnameserver ${OUTSIDE}\nsearch site.internal\n`), host: HOST('/run/systemd/resolve/resolv.conf', `nameserver 192.0.2.53\nnameserver ${OUTSIDE}\nsearch site.internal\n`), resolvedEnabled: false, dns: { nameservers: ['192.0.2.53', OUTSIDE], source: '/run/systemd/resolve/resolv.conf' }, stderr: 'pass --nameserver IP to name the site' },
  { running: true, resolvConf: 'plain', nameserver: true, code: 0, kubelet: KUBELET('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), host: HOST('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), resolvedEnabled: false, dns: { nameservers: ['10.0.0.53'], source: '--nameserver' } },
  // The state of the issue: resolved runs, /etc/resolv.conf is the site's plain file. kubeadm alone would give the kubelet resolved's list (and 203.0.113.53).
  { running: true, resolvConf: 'plain', nameserver: false, code: 0, kubelet: KUBELET('/etc/resolv.conf', 'nameserver 192.0.2.10\nsearch site.internal\n'), host: `644 ${RESOLV_CONF_STATES.plain}`, resolvedEnabled: true, dns: { nameservers: ['192.0.2.10'], source: '/etc/resolv.conf' } },
  { running: false, resolvConf: 'stub', nameserver: true, code: 0, kubelet: KUBELET('--nameserver', 'nameserver 10.0.0.53\n'), host: HOST('--nameserver', 'nameserver 10.0.0.53\n'), resolvedEnabled: false, dns: { nameservers: ['10.0.0.53'], source: '--nameserver' } },
  { running: false, resolvConf: 'stub', nameserver: false, code: 5, host: STUB_LINK, resolvedEnabled: true, stderr: 'no nameserver is known for /etc/resolv.conf (it links to ../run/systemd/resolve/stub-resolv.conf, resolved.conf names no DNS=, and systemd-resolved is not running)' },
  { running: false, resolvConf: 'upstream', nameserver: true, code: 0, kubelet: KUBELET('--nameserver', 'nameserver 10.0.0.53\n'), host: HOST('--nameserver', 'nameserver 10.0.0.53\n'), resolvedEnabled: false, dns: { nameservers: ['10.0.0.53'], source: '--nameserver' } },
  { running: false, resolvConf: 'upstream', nameserver: false, code: 5, host: UPSTREAM_LINK, resolvedEnabled: true, stderr: "next: pass --nameserver IP (the site's DNS server)" },
  { running: false, resolvConf: 'plain', nameserver: true, code: 0, kubelet: KUBELET('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), host: HOST('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'), resolvedEnabled: false, dns: { nameservers: ['10.0.0.53'], source: '--nameserver' } },
  { running: false, resolvConf: 'plain', nameserver: false, code: 0, kubelet: KUBELET('/etc/resolv.conf', 'nameserver 192.0.2.10\nsearch site.internal\n'), host: `644 ${RESOLV_CONF_STATES.plain}`, resolvedEnabled: true, dns: { nameservers: ['192.0.2.10'], source: '/etc/resolv.conf' } },
];

/** Fedora 37 (systemd-resolved installed and enabled) with /etc/resolv.conf in the given state, and resolved's runtime files when it runs. */
function fedoraWith(resolvConf: Tree[string], running: boolean, extra: Tree = {}): Tree {
  const { 'etc/resolv.conf': _stub, ...rest } = FEDORA_37;
  return { ...rest, ...(running ? RESOLVED_RUNNING : {}), 'etc/resolv.conf': resolvConf, ...extra };
}

describe('ag-nodeprep dns: the kubelet gets the site nameservers in every case', () => {
  let dir: string;
  let document: AgDocument;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-dns-'));
    document = await writeBundle(join(dir, 'bundle'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const name = (c: Case): string =>
    `resolved ${c.running ? 'running' : 'not running'}, /etc/resolv.conf ${c.resolvConf === 'plain' ? 'a plain file' : `a link to resolved's ${c.resolvConf}`}, ${c.nameserver ? 'with' : 'without'} --nameserver`;

  it.each(CASES.map((c) => [name(c), c] as const))('%s', async (label, c) => {
    const root = join(dir, label.replace(/[^a-z]+/gi, '-'));
    await writeTree(root, fedoraWith(RESOLV_CONF_STATES[c.resolvConf], c.running));
    const argv = ['apply', '--root', root, '--skip', OTHER_STEPS, ...(c.nameserver ? ['--nameserver', '10.0.0.53'] : [])];
    const first = await run(argv, document);
    if (c.stderr !== undefined) expect(first.stderr).toContain(c.stderr);
    expect(first.code, first.stderr).toBe(c.code);
    const tree = await listTree(root, ['var/lib/ag/']);
    expect(tree['etc/kubernetes/resolv.conf']).toBe(c.kubelet);
    expect(tree['etc/resolv.conf']).toBe(c.host);
    expect(tree[RESOLVED_ENABLED] !== undefined).toBe(c.resolvedEnabled);
    if (c.code !== 0) {
      expect(first.document).toBeUndefined();
      return;
    }
    expect(first.document!.nodeprep!.dns).toEqual({ resolvConf: '/etc/kubernetes/resolv.conf', ...c.dns });
    // A second apply changes nothing, and check agrees the node is ready.
    const second = await run(argv, document);
    expect(second.document!.nodeprep!.changes).toBe(0);
    expect(await listTree(root, ['var/lib/ag/'])).toEqual(tree);
    expect((await run(['check', ...argv.slice(1)], document)).code).toBe(0);
  });

  it("takes resolved.conf's DNS= (the site's configuration) before resolved's current list", async () => {
    const root = join(dir, 'dns-equals');
    await writeTree(root, fedoraWith(RESOLV_CONF_STATES.stub, true, { 'etc/systemd/resolved.conf': '[Resolve]\nDNS=192.0.2.53 192.0.2.54#dns.site.internal\n' }));
    const { code, document: out, stderr } = await run(['apply', '--root', root, '--skip', OTHER_STEPS], document);
    expect(code).toBe(0);
    expect(out!.nodeprep!.dns).toEqual({ resolvConf: '/etc/kubernetes/resolv.conf', nameservers: ['192.0.2.53', '192.0.2.54'], source: 'DNS= in resolved.conf' });
    expect(stderr).not.toContain(OUTSIDE);
  });

  it('--resolved keep leaves the host to systemd-resolved and still gives the kubelet a plain file', async () => {
    const root = join(dir, 'keep');
    await writeTree(root, fedoraWith(RESOLV_CONF_STATES.stub, true));
    const { code, document: out } = await run(['apply', '--root', root, '--skip', OTHER_STEPS, '--resolved', 'keep', '--nameserver', '10.0.0.53'], document);
    expect(code).toBe(0);
    const tree = await listTree(root, ['var/lib/ag/']);
    expect(tree['etc/resolv.conf']).toBe(STUB_LINK);
    expect(tree[RESOLVED_ENABLED]).toBeDefined();
    expect(tree['etc/kubernetes/resolv.conf']).toBe(KUBELET('--nameserver', 'nameserver 10.0.0.53\nsearch site.internal\n'));
    expect(out!.nodeprep!.dns).toMatchObject({ resolvConf: '/etc/kubernetes/resolv.conf', nameservers: ['10.0.0.53'] });
    // The host-only requirement that resolved runs is recorded, not run, under --root.
    expect(out!.nodeprep!.actions.find((a) => a.target === '/run/systemd/resolve/resolv.conf')).toMatchObject({ action: 'require', status: 'skipped' });
  });

  it('never gives pods a loopback resolver: a local cache on 127.0.0.1 is left to the host', async () => {
    const root = join(dir, 'dnsmasq');
    await writeTree(root, fedoraWith('nameserver 127.0.0.1\n', false));
    const missing = await run(['apply', '--root', root, '--skip', OTHER_STEPS], document);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('/etc/resolv.conf names no nameserver a pod can reach (127.0.0.1)');

    const mixed = join(dir, 'mixed');
    await writeTree(mixed, fedoraWith('nameserver 127.0.0.1\nnameserver 192.0.2.10\n', false));
    const { code, document: out, stderr } = await run(['apply', '--root', mixed, '--skip', OTHER_STEPS], document);
    expect(code).toBe(0);
    expect(stderr).toContain("/etc/resolv.conf also names 127.0.0.1, which pods cannot reach; the kubelet's file leaves them out");
    expect(out!.nodeprep!.dns!.nameservers).toEqual(['192.0.2.10']);
    expect((await listTree(mixed))['etc/resolv.conf']).toBe('644 nameserver 127.0.0.1\nnameserver 192.0.2.10\n');
  });

  it('refuses a --nameserver that is not an address, is loopback, or lies in the cluster networks (exit 2), changing nothing', async () => {
    const root = join(dir, 'refused');
    await writeTree(root, fedoraWith(RESOLV_CONF_STATES.stub, true));
    const before = await listTree(root);
    for (const [server, message] of [
      ['dns.site.internal', '--nameserver "dns.site.internal" is not an IP address'],
      ['127.0.0.53', '--nameserver 127.0.0.53 is a loopback address'],
      ['10.96.0.10', 'cluster.serviceSubnet "10.96.0.0/12" overlaps nameserver (from --nameserver) "10.96.0.10"'],
    ]) {
      const { code, stderr } = await run(['apply', '--root', root, '--skip', OTHER_STEPS, '--nameserver', server!], document);
      expect(code, server).toBe(2);
      expect(stderr).toContain(message);
    }
    expect(await listTree(root)).toEqual(before);
  });
});
