/**
 * The iptables rules a kubeadm cluster leaves behind: kube-proxy's KUBE-*
 * chains, flannel's FLANNEL-* chains and "flanneld masq" rules, and the CNI
 * plugins' CNI-* chains (portmap, bridge ipMasq). `kubeadm reset` leaves them
 * (it says so) and the usual advice, `iptables -F && iptables -X`, also
 * wipes the operator's own firewall. This keeps everything else.
 */
const OWNED_CHAIN = /^(KUBE-|FLANNEL-|CNI-)/;

function ruleIsOwned(line: string): boolean {
  const words = line.match(/"[^"]*"|\S+/g) ?? [];
  if (OWNED_CHAIN.test(words[1] ?? '')) return true;
  for (let i = 0; i < words.length - 1; i++) {
    if ((words[i] === '-j' || words[i] === '-g' || words[i] === '--jump' || words[i] === '--goto') && OWNED_CHAIN.test(words[i + 1]!)) return true;
    if (words[i] === '--comment' && /flanneld|kubernetes|CNI portfwd|name: "cbr0"/i.test(words[i + 1]!)) return true;
  }
  return false;
}

export interface FilteredRules {
  text: string;
  removedChains: string[];
  removedRules: number;
}

/** Drops the owned chains and every rule in or jumping to them from `iptables-save` output. */
export function removeOwnedRules(saved: string): FilteredRules {
  const removedChains: string[] = [];
  let removedRules = 0;
  const kept = saved.split('\n').filter((line) => {
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s/)[0]!;
      if (OWNED_CHAIN.test(chain)) {
        removedChains.push(chain);
        return false;
      }
      return true;
    }
    if (line.startsWith('-A ') && ruleIsOwned(line)) {
      removedRules++;
      return false;
    }
    return true;
  });
  return { text: kept.join('\n'), removedChains, removedRules };
}
