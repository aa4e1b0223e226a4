import { parseIpAddress, UsageError, type Logger, type NodeNetwork } from '@ag/core';

/**
 * How flanneld chooses the interface between nodes. flannel's main.go tries
 * every `--iface` (a name or an address) in order, then every
 * `--iface-regex` (matched against each interface's addresses and names),
 * then `--iface-can-reach` (the interface of `ip route get ADDRESS`), and
 * exits when none matches. The same DaemonSet runs on every node, so only a
 * choice that holds on every node works: a name every node shares, a regex,
 * or an address every node can reach.
 */
export interface InterfaceChoice {
  interfaces: string[];
  regexes: string[];
  canReach?: string | undefined;
}

/** The flanneld arguments ag-flannel sets; any of them in the upstream manifest is replaced. */
export const INTERFACE_ARG = /^--iface(-regex|-can-reach)?(=|$)/;

export function hasInterfaceChoice(choice: InterfaceChoice): boolean {
  return choice.interfaces.length > 0 || choice.regexes.length > 0 || choice.canReach !== undefined;
}

/** flanneld's arguments for the choice, in the order flanneld tries them. */
export function flanneldInterfaceArgs(choice: InterfaceChoice): string[] {
  return [
    ...choice.interfaces.map((name) => `--iface=${name}`),
    ...choice.regexes.map((regex) => `--iface-regex=${regex}`),
    ...(choice.canReach === undefined ? [] : [`--iface-can-reach=${choice.canReach}`]),
  ];
}

/** Linux's rule for an interface name (net/core/dev.c dev_valid_name): 1 to 15 bytes, no '/', ':' or white space, not '.' or '..'. */
function interfaceNameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return 'is not an interface name';
  if (Buffer.byteLength(name) > 15) return 'is longer than an interface name can be (15 bytes)';
  if (/[/:\s]/.test(name)) return "is neither an address nor an interface name (no '/', ':' or spaces)";
  return undefined;
}

/**
 * Whether a Go (RE2) regular expression compiles, by way of JavaScript's:
 * RE2's `(?P<name>` and inline flags are rewritten first, and what RE2 lacks
 * (look-around, back-references; github.com/google/re2/wiki/Syntax) is
 * refused, since flanneld would exit on it on every node.
 */
function regexProblem(regex: string): string | undefined {
  if (regex === '') return 'is empty';
  if (/\(\?<?[=!]/.test(regex)) return 'uses look-around, which Go regular expressions (RE2) do not have';
  if (/\\[1-9]|\\k</.test(regex)) return 'uses a back-reference, which Go regular expressions (RE2) do not have';
  const asJavaScript = regex.replace(/\(\?P</g, '(?<').replace(/\(\?[imsU-]+\)/g, '').replace(/\(\?[imsU-]+:/g, '(?:');
  try {
    new RegExp(asJavaScript, 'u');
    return undefined;
  } catch (error) {
    return `does not compile (${(error as Error).message})`;
  }
}

/**
 * Refuses a choice flanneld would exit on everywhere (exit 2), warns about one
 * that holds on a single node (an address), and returns the addresses among
 * them as node addresses, which must lie outside the pod and service networks.
 */
export function checkInterfaceChoice(choice: InterfaceChoice, log: Logger): NodeNetwork[] {
  const problems: string[] = [];
  const nodes: NodeNetwork[] = [];
  for (const iface of choice.interfaces) {
    if (parseIpAddress(iface) !== undefined) {
      nodes.push({ field: '--iface', value: iface });
      log.warn(
        `--iface ${iface} is an address: it exists on one node only, so flanneld on every other node finds no interface and exits; ` +
          'use an interface name every node has, --iface-regex, or --iface-can-reach ADDRESS',
      );
      continue;
    }
    const problem = interfaceNameProblem(iface);
    if (problem !== undefined) problems.push(`--iface ${JSON.stringify(iface)} ${problem}`);
  }
  for (const regex of choice.regexes) {
    const problem = regexProblem(regex);
    if (problem !== undefined) problems.push(`--iface-regex ${JSON.stringify(regex)} ${problem}`);
  }
  if (choice.canReach !== undefined) {
    if (parseIpAddress(choice.canReach) === undefined) problems.push(`--iface-can-reach ${JSON.stringify(choice.canReach)} is not an IP address (flanneld runs 'ip route get' on it)`);
    else nodes.push({ field: '--iface-can-reach', value: choice.canReach });
  }
  if (problems.length > 0) {
    throw new UsageError(`the interface flannel should use between nodes is not valid:\n  ${problems.join('\n  ')}`, {
      hint: 'e.g. --iface eth1 (a name every node has), --iface-regex "^(eth|ens)1$", or --iface-can-reach 192.168.56.1 (an address every node routes to over the node network)',
    });
  }
  return nodes;
}
