import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { formatIpAddress, isLoopback, parseIpAddress } from './address.js';
import { cidrsOverlap, formatCidr, parseCidr, type Cidr } from './cidr.js';
import { clusterNetworkProblems, validateClusterNetworks } from './cluster-networks.js';

const cidr = (text: string): Cidr => {
  const result = parseCidr(text);
  if ('problem' in result) throw new Error(result.problem);
  return result.cidr;
};

describe('addresses', () => {
  it('reads IPv4 and every IPv6 spelling to the same number, and writes RFC 5952 text', () => {
    expect(parseIpAddress('10.244.1.2')).toEqual({ family: 4, value: 0x0af40102n });
    expect(parseIpAddress('::ffff:10.244.1.2')).toEqual({ family: 6, value: 0xffff0af40102n });
    expect(parseIpAddress('2001:DB8:0:0:1:0:0:1')!.value).toBe(parseIpAddress('2001:db8::1:0:0:1')!.value);
    expect(parseIpAddress('::')).toEqual({ family: 6, value: 0n });
    expect(parseIpAddress('1::')!.value).toBe(1n << 112n);
    const format = (text: string): string => formatIpAddress(parseIpAddress(text)!);
    expect(format('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(format('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1'); // the first of two equal runs
    expect(format('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1'); // one zero group stays
    expect(format('fd00:10:244::')).toBe('fd00:10:244::');
    expect(format('192.0.2.1')).toBe('192.0.2.1');
  });

  it('refuses what is not an address: leading zeros, zones, spaces, words', () => {
    for (const text of ['banana', '010.0.0.1', '10.0.0.256', 'fe80::1%eth0', ' 10.0.0.1', '1:2:3:4:5:6:7:8:9', '']) {
      expect(parseIpAddress(text), text).toBeUndefined();
    }
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.53', '127.1.2.3', '::1'].map((a) => isLoopback(parseIpAddress(a)!))).toEqual([true, true, true]);
    expect(['10.0.0.53', '::2', '128.0.0.1'].map((a) => isLoopback(parseIpAddress(a)!))).toEqual([false, false, false]);
  });
});

describe('CIDRs', () => {
  it('says what is wrong with a text that is not a CIDR', () => {
    const problem = (text: string): string => (parseCidr(text) as { problem: string }).problem;
    expect(problem('banana')).toContain('not a CIDR');
    expect(problem('10.244.0.0')).toContain('without a prefix length');
    expect(problem('10.244.0.0/33')).toBe('the prefix length /33 is longer than an IPv4 address (32 bits)');
    expect(problem('fd00::/129')).toBe('the prefix length /129 is longer than an IPv6 address (128 bits)');
    expect(problem('10.244.0.0/x')).toContain('is not a number of bits');
    expect(problem('10.244.0.0/-1')).toContain('is not a number of bits');
    expect(problem('10.244.0/16')).toContain('"10.244.0" is not an IPv4 or IPv6 address');
    expect(problem('::ffff:10.0.0.0/104')).toContain('IPv4-mapped');
  });

  it('keeps the address as written and the network apart', () => {
    const c = cidr('192.168.56.10/24');
    expect(formatCidr(c)).toBe('192.168.56.0/24');
    expect(c.address).not.toBe(c.network);
    expect(formatCidr(cidr('fd00:10:244:1::5/56'))).toBe('fd00:10:244::/56');
    expect(formatCidr(cidr('0.0.0.0/0'))).toBe('0.0.0.0/0');
  });

  it('agrees with node:net BlockList on which ranges overlap', () => {
    // An independent implementation as the oracle: two CIDRs overlap exactly when one holds the other's first address.
    const samples = [
      '10.0.0.0/8', '10.96.0.0/12', '10.244.0.0/16', '10.244.255.0/24', '10.245.0.0/16', '192.168.0.0/16', '192.168.56.10/32', '0.0.0.0/0',
      'fd00::/8', 'fd00:10:244::/56', 'fd00:10:245::/56', 'fd00:10:96::/112', '::/0', '2001:db8::/32',
    ].map(cidr);
    for (const a of samples) {
      for (const b of samples) {
        const list = new BlockList();
        const type = a.family === 4 ? 'ipv4' : 'ipv6';
        list.addSubnet(formatCidr(a).split('/')[0]!, a.prefix, type);
        const holdsB = a.family === b.family && list.check(formatCidr(b).split('/')[0]!, type);
        const other = new BlockList();
        if (b.family === a.family) other.addSubnet(formatCidr(b).split('/')[0]!, b.prefix, type);
        const holdsA = a.family === b.family && other.check(formatCidr(a).split('/')[0]!, type);
        expect(cidrsOverlap(a, b), `${formatCidr(a)} / ${formatCidr(b)}`).toBe(holdsA || holdsB);
      }
    }
  });
});

describe('validateClusterNetworks', () => {
  it("accepts kubeadm's and flannel's defaults, and dual-stack lists as kubeadm takes them", () => {
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' })).toEqual([]);
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/16,fd00:10:244::/56', serviceSubnet: '10.96.0.0/16,fd00:10:96::/112' })).toEqual([]);
    expect(clusterNetworkProblems({ podSubnet: 'fd00:10:244::/48', serviceSubnet: 'fd00:10:96::/108' })).toEqual([]);
    const parsed = validateClusterNetworks({ podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', nodeNetworks: [{ field: 'node', value: '192.168.56.10/24' }] });
    expect(parsed.podSubnets.map(formatCidr)).toEqual(['10.244.0.0/16']);
    expect(parsed.nodeNetworks.map(formatCidr)).toEqual(['192.168.56.0/24']);
  });

  it('names the field and the value of what does not parse', () => {
    expect(clusterNetworkProblems({ podSubnet: 'banana' })).toEqual(['cluster.podSubnet "banana": not a CIDR (ADDRESS/PREFIX, e.g. 10.244.0.0/16)']);
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/33' })).toEqual(['cluster.podSubnet "10.244.0.0/33": the prefix length /33 is longer than an IPv4 address (32 bits)']);
    expect(clusterNetworkProblems({ serviceSubnet: '' })).toEqual(['cluster.serviceSubnet is empty']);
    expect(clusterNetworkProblems({ podSubnet: '10.244.1.0/16' })).toEqual(['cluster.podSubnet "10.244.1.0/16": host bits are set; the network is 10.244.0.0/16']);
    expect(clusterNetworkProblems({ podSubnet: 'x' }, { fields: { podSubnet: '--pod-subnet' } })[0]).toMatch(/^--pod-subnet "x": /);
  });

  it('takes a dual-stack list only as kubeadm does: no spaces, at most one CIDR per family', () => {
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/16, fd00:10:244::/56' })).toEqual([
      'cluster.podSubnet "10.244.0.0/16, fd00:10:244::/56": " fd00:10:244::/56": spaces are not allowed (kubeadm splits the list on commas only)',
    ]);
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/16,10.245.0.0/16' })).toEqual([
      'cluster.podSubnet "10.244.0.0/16,10.245.0.0/16": expected one CIDR, or one IPv4 and one IPv6 CIDR for dual-stack',
    ]);
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/16,fd00::/56,fd01::/56' })).toContain(
      'cluster.podSubnet "10.244.0.0/16,fd00::/56,fd01::/56": expected one CIDR, or one IPv4 and one IPv6 CIDR for dual-stack',
    );
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/16,' })[0]).toContain('"": not a CIDR');
  });

  it("holds a pod subnet to the per-node mask and kubeadm's 16-bit limit", () => {
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/25' })).toEqual([
      "cluster.podSubnet \"10.244.0.0/25\": a /25 cannot hold one node's /24 (kube-controller-manager --node-cidr-mask-size-ipv4 is 24); use a /24 or wider",
    ]);
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/24' })).toEqual([]);
    expect(clusterNetworkProblems({ podSubnet: '10.0.0.0/8' })).toEqual([]);
    expect(clusterNetworkProblems({ podSubnet: '10.0.0.0/7' })[0]).toContain('use a /8 or narrower');
    expect(clusterNetworkProblems({ podSubnet: 'fd00::/65' })[0]).toContain("cannot hold one node's /64");
    expect(clusterNetworkProblems({ podSubnet: 'fd00::/47' })[0]).toContain('use a /48 or narrower');
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/29' })[0]).toContain('8 address(es) is too small');
    // A controller manager told to hand out /26s takes a /26 pod subnet.
    expect(clusterNetworkProblems({ podSubnet: '10.244.0.0/26' }, { nodeCidrMaskSize: { 4: 26 } })).toEqual([]);
  });

  it("holds a service subnet to kubeadm's sizes", () => {
    expect(clusterNetworkProblems({ serviceSubnet: '10.96.0.0/11' })).toEqual([
      'cluster.serviceSubnet "10.96.0.0/11": too large; for IPv4 the prefix must be /12 or longer (kubeadm ValidateServiceSubnetSize)',
    ]);
    expect(clusterNetworkProblems({ serviceSubnet: 'fd00:10:96::/107' })[0]).toContain('/108 or longer');
    expect(clusterNetworkProblems({ serviceSubnet: '10.96.0.0/28' })).toEqual([]);
    expect(clusterNetworkProblems({ serviceSubnet: '10.96.0.0/29' })[0]).toContain('the cluster DNS service is the tenth address');
  });

  it('refuses overlapping pod, service and node networks, naming both ranges', () => {
    expect(clusterNetworkProblems({ podSubnet: '10.0.0.0/8', serviceSubnet: '10.96.0.0/12' })).toEqual([
      'cluster.podSubnet "10.0.0.0/8" overlaps cluster.serviceSubnet "10.96.0.0/12": 10.96.0.0/12 lies inside 10.0.0.0/8',
    ]);
    expect(
      clusterNetworkProblems({
        podSubnet: '10.244.0.0/16,fd00:10:244::/56',
        serviceSubnet: '10.96.0.0/12,fd00:10:244::/112',
        nodeNetworks: [
          { field: '--advertise-address', value: '10.244.3.4' },
          { field: 'eth1', value: '10.96.0.5/8' },
        ],
      }),
    ).toEqual([
      'cluster.podSubnet "fd00:10:244::/56" overlaps cluster.serviceSubnet "fd00:10:244::/112": fd00:10:244::/112 lies inside fd00:10:244::/56',
      'cluster.podSubnet "10.244.0.0/16" overlaps --advertise-address "10.244.3.4": 10.244.3.4/32 lies inside 10.244.0.0/16',
      'cluster.podSubnet "10.244.0.0/16" overlaps eth1 "10.96.0.5/8": 10.244.0.0/16 lies inside 10.0.0.0/8',
      'cluster.serviceSubnet "10.96.0.0/12" overlaps eth1 "10.96.0.5/8": 10.96.0.0/12 lies inside 10.0.0.0/8',
    ]);
    expect(clusterNetworkProblems({ podSubnet: '10.96.0.0/12', serviceSubnet: '10.96.0.0/12' })[0]).toContain(': the same range');
    expect(clusterNetworkProblems({ nodeNetworks: [{ field: 'kubeadm.node.advertiseAddress', value: 'node1' }] })[0]).toContain('not an IP address or ADDRESS/PREFIX');
  });

  it('throws a usage error (exit 2) listing every problem', () => {
    let error: unknown;
    try {
      validateClusterNetworks({ podSubnet: 'banana', serviceSubnet: '10.96.0.0/33' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as UsageError).message).toContain('cluster.podSubnet "banana"');
    expect((error as UsageError).message).toContain('cluster.serviceSubnet "10.96.0.0/33"');
  });
});
