/**
 * Every step by name, in the order apply runs them, with its line of
 * --help: data that imports no step's code, so that a start that only
 * describes the steps (--help, --skip's list) does not load them (it read
 * 306 KB of bundle for that; README, Start-up). A step's code is in
 * steps/<name>.ts, put behind its name in steps/index.ts. Adding a step is
 * one entry here and one there; its name becomes a `--skip` value and a
 * line of --help on its own.
 */
export const STEP_LIST = [
  // First: later steps need what it installs (containerd, conntrack, socat,
  // iptables-legacy, container-selinux) and look for it only when they run.
  { name: 'packages', summary: "OS packages (containerd, runc, conntrack, socat, iptables…) from the bundle's local repository, offline" },
  { name: 'modules', summary: 'kernel modules overlay and br_netfilter, loaded now and at boot (/etc/modules-load.d/k8s.conf)' },
  { name: 'sysctl', summary: 'net.bridge.bridge-nf-call-iptables/-ip6tables and net.ipv4.ip_forward = 1 (/etc/sysctl.d/k8s.conf), applied now' },
  { name: 'swap', summary: 'swap off now and at boot: fstab swap lines commented, the zram generator disabled where present, swap.target masked' },
  { name: 'selinux', summary: 'SELinux permissive now and at boot, or (--selinux enforcing) left enforcing with container-selinux required' },
  { name: 'firewall', summary: 'firewalld disabled (default), or with --firewall open the Kubernetes and flannel ports opened in its default zone' },
  { name: 'iptables', summary: 'the iptables backend chosen explicitly (legacy or nft) through the alternatives system, so the host and kube-proxy agree' },
  { name: 'dns', summary: "the kubelet's resolv.conf with the site's nameservers (/etc/kubernetes/resolv.conf); a plain /etc/resolv.conf; systemd-resolved disabled (default) or kept" },
  { name: 'binaries', summary: 'kubeadm, kubelet, kubectl, crictl, CNI plugins (/opt/cni/bin), helm and k9s from the bundle, checksums and modes verified' },
  { name: 'kubelet', summary: 'the kubelet unit and kubeadm drop-in from the bundle, /usr/bin paths fixed to where the binaries went; kubelet enabled' },
  { name: 'containerd', summary: 'containerd config (CRI on, SystemdCgroup, the sandbox image, config_path for certs.d, no inline mirrors; version 2 or 3 keys), crictl.yaml, enabled and restarted' },
  { name: 'preload', summary: 'with --preload-images: the bundle\'s images imported into containerd (namespace k8s.io), so kubeadm needs no registry' },
  { name: 'shell', summary: "the ag tools' man pages and bash and zsh completion, from the bundle's tools/share/" },
] as const;

export type StepName = (typeof STEP_LIST)[number]['name'];

export const STEP_NAMES: readonly string[] = STEP_LIST.map((step) => step.name);
