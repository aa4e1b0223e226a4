import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { createNetworkNamespace, startForwardProxy, type ForwardProxy, type NetworkNamespace } from '@ag/fixtures';

/** Where every far-side name lookup would go: TEST-NET-1, routed into the black hole. */
export const FAR_NAMESERVER = '192.0.2.53';
/** The internal registry's name on the far side (its /etc/hosts says 127.0.0.1). */
export const FAR_REGISTRY_NAME = 'registry.ag.internal';

/** What has left a namespace through its black hole so far. */
export interface Leak {
  packets: number;
  bytes: number;
}

/**
 * The simulated air gap: two network namespaces made for one run.
 *
 * - `connected` has only its loopback: the stand-in upstream (file hosts,
 *   registry, token server) runs there, and so does the connected side's
 *   pipeline. It reaches nothing on this machine outside itself, unless
 *   the run carries OS packages: then one more link to this machine, where
 *   a proxy relays to Debian's archive alone (`outbound`).
 * - `far` has its loopback and one more link, `hole`, that carries the
 *   default routes (IPv4 and IPv6) and the resolver's address. The hole is a
 *   veth pair whose other end lies in a third, empty namespace (`sink`):
 *   anything a far-side process sends towards the outside (a connection, a
 *   DNS query) is routed into it and counted there instead of failing at
 *   once with ENETUNREACH, so `leak()` tells "nothing tried" from "nothing
 *   could". (A dummy interface would do the same; some kernels, this build
 *   machine's among them, have no dummy driver.)
 *
 * The far side gets `/etc/netns/<far>/resolv.conf` (nameserver 192.0.2.53,
 * into the hole) and `/etc/netns/<far>/hosts` (localhost and the internal
 * registry's name), which `ip netns exec` puts in place for every process
 * it starts there. Needs root.
 */
export interface Gap {
  connected: NetworkNamespace;
  /**
   * With `outboundHosts`: the connected side's one way out, a proxy on this
   * machine's end of a veth link (a /30 of its own; the namespace has no
   * default route), relaying only to those hosts. Put its url in
   * http_proxy / https_proxy.
   */
  outbound?: ForwardProxy;
  far: NetworkNamespace;
  /** The far side's black-hole interface. */
  hole: string;
  /** Packets and bytes the far side sent into the hole (its TX counter). */
  leak(): Promise<Leak>;
  /** What arrived at the other end of the hole (the sink's RX counter): the same packets, seen from outside. */
  arrived(): Promise<Leak>;
  /** The interface `ip route get ADDRESS` picks on the far side. */
  routeFromFar(address: string): Promise<string | undefined>;
  /**
   * Tries one TCP connection from the far side and reports how it ended
   * (`refused`, `timeout`, `unreachable`, `connected`, or the error code).
   * Used as the sensor's control: an attempt outward must show in leak().
   */
  tryConnectFromFar(host: string, port: number, timeoutMs?: number): Promise<string>;
  destroy(): Promise<void>;
}

async function linkCounters(namespace: string, device: string, direction: 'tx' | 'rx'): Promise<Leak> {
  const { stdout } = await execa('ip', ['-n', namespace, '-s', '-j', 'link', 'show', 'dev', device]);
  const [link] = JSON.parse(stdout) as Array<{ stats64?: Record<'tx' | 'rx', { packets: number; bytes: number }> }>;
  const counters = link?.stats64?.[direction];
  if (counters === undefined) throw new Error(`ip -s link show ${device} in ${namespace} reported no ${direction} counters`);
  return { packets: counters.packets, bytes: counters.bytes };
}

/**
 * A veth link from `namespace` to this machine, a link-local /30 picked at
 * random (runs side by side must not clash), and a proxy listening on this
 * machine's end only, relaying to `hosts`. No default route: the namespace
 * reaches the proxy's address and nothing else.
 */
async function linkOut(namespace: string, hosts: readonly string[], undoes: Array<() => Promise<unknown>>): Promise<ForwardProxy> {
  const octet = 1 + (randomBytes(1)[0]! % 250);
  const block = 4 * (randomBytes(1)[0]! % 64);
  const hostAddress = `169.254.${octet === 169 ? 170 : octet}.${block + 1}`;
  const inside = `169.254.${octet === 169 ? 170 : octet}.${block + 2}`;
  const hostEnd = `agout${randomBytes(3).toString('hex')}`;
  const ip = (args: string[]) => execa('ip', args);
  await ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'out0', 'netns', namespace]);
  undoes.push(() => execa('ip', ['link', 'del', hostEnd], { reject: false }));
  await ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostEnd]);
  await ip(['link', 'set', hostEnd, 'up']);
  await ip(['-n', namespace, 'addr', 'add', `${inside}/30`, 'dev', 'out0']);
  await ip(['-n', namespace, 'link', 'set', 'out0', 'up']);
  const proxy = await startForwardProxy({ allowHosts: hosts, listen: hostAddress });
  undoes.push(() => proxy.close());
  return proxy;
}

/**
 * Creates the namespaces and the black hole (`farNames` also map to
 * 127.0.0.1 on the far side; `outboundHosts` are what the connected side
 * may reach through a proxy on this machine); undoes everything it did if a
 * step fails.
 */
export async function createGap(options: { farNames?: string[]; outboundHosts?: readonly string[] } = {}): Promise<Gap> {
  const made: NetworkNamespace[] = [];
  const etcDirs: string[] = [];
  const undoes: Array<() => Promise<unknown>> = [];
  const undo = async (): Promise<void> => {
    for (const step of undoes.reverse()) await step();
    for (const namespace of made.reverse()) await namespace.destroy();
    for (const dir of etcDirs) await rm(dir, { recursive: true, force: true });
  };
  try {
    const connected = await createNetworkNamespace('ag-conn');
    made.push(connected);
    const outbound = options.outboundHosts === undefined ? undefined : await linkOut(connected.name, options.outboundHosts, undoes);
    const far = await createNetworkNamespace('ag-far');
    made.push(far);
    const sink = await createNetworkNamespace('ag-sink');
    made.push(sink);

    // Interface names are at most 15 bytes.
    const hole = `aghole${randomBytes(3).toString('hex')}`;
    const sinkEnd = `agsink${randomBytes(3).toString('hex')}`;
    const ip = (args: string[]) => execa('ip', args);
    await ip(['link', 'add', hole, 'netns', far.name, 'type', 'veth', 'peer', 'name', sinkEnd, 'netns', sink.name]);
    // No ARP and no IPv6 link-local address: the link itself says nothing, so its counters stay 0 until someone tries.
    await ip(['-n', far.name, 'link', 'set', hole, 'arp', 'off', 'addrgenmode', 'none']);
    await ip(['-n', sink.name, 'link', 'set', sinkEnd, 'arp', 'off', 'addrgenmode', 'none']);
    await ip(['-n', far.name, 'addr', 'add', '198.51.100.2/32', 'dev', hole]);
    await ip(['-n', far.name, '-6', 'addr', 'add', '2001:db8::2/128', 'dev', hole, 'nodad']);
    await ip(['-n', sink.name, 'link', 'set', sinkEnd, 'up']);
    await ip(['-n', far.name, 'link', 'set', hole, 'up']);
    await ip(['-n', far.name, 'route', 'add', 'default', 'dev', hole]);
    await ip(['-n', far.name, '-6', 'route', 'add', 'default', 'dev', hole]);

    const etc = join('/etc/netns', far.name);
    etcDirs.push(etc);
    await mkdir(etc, { recursive: true });
    await writeFile(join(etc, 'resolv.conf'), `# ag e2e far side: every lookup goes into the black hole\nnameserver ${FAR_NAMESERVER}\noptions timeout:1 attempts:1\n`);
    await writeFile(join(etc, 'hosts'), `127.0.0.1 localhost ${[FAR_REGISTRY_NAME, ...(options.farNames ?? [])].join(' ')}\n::1 localhost ip6-localhost ip6-loopback\n`);

    return {
      connected,
      ...(outbound === undefined ? {} : { outbound }),
      far,
      hole,
      leak: () => linkCounters(far.name, hole, 'tx'),
      arrived: () => linkCounters(sink.name, sinkEnd, 'rx'),
      async routeFromFar(address) {
        const result = await execa('ip', ['-n', far.name, '-j', 'route', 'get', address], { reject: false });
        if (result.exitCode !== 0) return undefined;
        return (JSON.parse(result.stdout) as Array<{ dev?: string }>)[0]?.dev;
      },
      async tryConnectFromFar(host, port, timeoutMs = 1500) {
        const script = `const s=require('net').connect(${port},${JSON.stringify(host)});` +
          `const t=setTimeout(()=>{console.log('timeout');s.destroy();},${timeoutMs});` +
          `s.on('connect',()=>{console.log('connected');clearTimeout(t);s.destroy();});` +
          `s.on('error',e=>{clearTimeout(t);console.log(e.code==='ECONNREFUSED'?'refused':e.code==='ENETUNREACH'?'unreachable':e.code);});`;
        const { stdout } = await execa('ip', ['netns', 'exec', far.name, process.execPath, '-e', script]);
        return stdout.trim();
      },
      destroy: undo,
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
