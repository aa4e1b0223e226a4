/**
 * The OS releases ag knows, as data: where each one's packages come from,
 * how its signatures are checked, what a minimal install of it already has,
 * and which of its packages a kubeadm node needs (by the OS's own names).
 *
 * Why each node package is there (kubeadm's preflight checks, v1.27–v1.31,
 * cmd/kubeadm/app/preflight/checks.go): conntrack, ip, iptables, mount and
 * nsenter must be on PATH; ebtables, ethtool, socat, tc and touch are
 * warned about when missing (socat: `kubectl port-forward`). containerd and
 * runc are the container runtime. ca-certificates lets containerd and kubelet
 * trust a registry CA added to the system store; kmod loads overlay and
 * br_netfilter; ipset serves kube-proxy's ipvs mode.
 */

import type { PackageFormat, PackageManager } from '@ag/core';

export interface NodePackage {
  name: string;
  why: string;
}

/** An apt repository (one line of sources.list). */
export interface AptRepository {
  /** e.g. bookworm-security */
  name: string;
  /** Base URI for amd64/i386; `portsUri` for the other architectures when the distribution splits them (Ubuntu). */
  uri: string;
  portsUri?: string;
  suite: string;
  components: string[];
  /** The keyring its InRelease signature is checked against (sources.list `signed-by`). */
  keyring: string;
}

/** A dnf repository (one section of a .repo file); `$releasever` and `$basearch` are dnf's own variables. */
export interface DnfRepository {
  id: string;
  name: string;
  baseurl?: string;
  metalink?: string;
  gpgkey: string;
}

export interface OsRelease {
  /** The `cluster.os` form: `debian-12`, `fedora-37`, `rhel-9`. */
  os: string;
  family: 'debian' | 'ubuntu' | 'fedora' | 'rhel';
  format: PackageFormat;
  manager: PackageManager;
  /** apt: the release's codename. */
  codename?: string;
  /** dnf: `$releasever`. */
  releasever?: string;
  /** Kubernetes/Go architecture name -> the OS's own; an architecture the release lacks is absent. */
  architectures: Record<string, string>;
  aptRepositories?: AptRepository[];
  /**
   * dnf: the repositories to resolve against. `system` means the ones
   * configured on the resolving host (RHEL: its subscription's BaseOS and
   * AppStream, which need entitlement certificates ag cannot provide).
   */
  dnfRepositories?: DnfRepository[];
  useSystemRepositories?: boolean;
  /**
   * apt: what a minimal install holds, as debootstrap's minbase variant
   * builds it: every package of these priorities plus `minimalExtra`, with
   * their dependencies. The closure leaves these out unless an inventory says
   * otherwise.
   */
  minimalPriorities?: string[];
  minimalExtra?: string[];
  packages: NodePackage[];
  /** What an operator should know about this release's packages. */
  note: string;
}

const why = {
  containerd: 'the container runtime (CRI) the kubelet talks to',
  runc: 'the OCI runtime containerd starts containers with',
  socat: 'kubeadm preflight warns without it; kubectl port-forward needs it',
  conntrack: 'kubeadm preflight requires conntrack; kube-proxy flushes conntrack entries with it',
  ebtables: 'kubeadm preflight warns without ebtables',
  ipset: "kube-proxy's ipvs mode",
  iptables: 'kubeadm preflight requires iptables; kube-proxy and flannel program it',
  ethtool: 'kubeadm preflight warns without ethtool',
  iproute: 'kubeadm preflight requires ip and warns without tc',
  caCertificates: "the system trust store, to which the internal registry's CA is added",
  kmod: 'modprobe loads overlay and br_netfilter',
  libcgroup: 'cgroup tools the classic Fedora procedure installs',
  containerSelinux: 'SELinux policy for container processes (containerd.io requires it)',
} as const;

const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
// Shipped by ubuntu-keyring on Ubuntu; a Debian host needs it copied over (Debian 12 has no package for it).
const UBUNTU_KEYRING = '/usr/share/keyrings/ubuntu-archive-keyring.gpg';

function debianPackages(): NodePackage[] {
  return [
    { name: 'containerd', why: why.containerd },
    { name: 'runc', why: why.runc },
    { name: 'socat', why: why.socat },
    { name: 'conntrack', why: why.conntrack },
    { name: 'ebtables', why: why.ebtables },
    { name: 'ipset', why: why.ipset },
    { name: 'iptables', why: why.iptables },
    { name: 'ethtool', why: why.ethtool },
    { name: 'iproute2', why: why.iproute },
    { name: 'ca-certificates', why: why.caCertificates },
    { name: 'kmod', why: why.kmod },
  ];
}

function debian(version: string, codename: string, extraNote: string): OsRelease {
  return {
    os: `debian-${version}`,
    family: 'debian',
    format: 'deb',
    manager: 'apt',
    codename,
    architectures: { amd64: 'amd64', arm64: 'arm64', arm: 'armhf', ppc64le: 'ppc64el', s390x: 's390x' },
    aptRepositories: [
      { name: codename, uri: 'http://deb.debian.org/debian', suite: codename, components: ['main'], keyring: DEBIAN_KEYRING },
      { name: `${codename}-updates`, uri: 'http://deb.debian.org/debian', suite: `${codename}-updates`, components: ['main'], keyring: DEBIAN_KEYRING },
      {
        name: `${codename}-security`,
        uri: 'http://deb.debian.org/debian-security',
        suite: `${codename}-security`,
        components: ['main'],
        keyring: DEBIAN_KEYRING,
      },
    ],
    minimalPriorities: ['required'],
    // debootstrap merges /usr itself and installs usr-is-merged, never usrmerge (which would pull in perl).
    minimalExtra: ['apt', 'usr-is-merged'],
    packages: debianPackages(),
    note: `Debian's own containerd and runc from main (no third-party repository); signatures checked against ${DEBIAN_KEYRING} (package debian-archive-keyring). ${extraNote}`,
  };
}

function ubuntu(version: string, codename: string, extraNote: string): OsRelease {
  const repo = (suite: string, uri: string): AptRepository => ({
    name: suite,
    uri,
    portsUri: 'http://ports.ubuntu.com/ubuntu-ports',
    suite,
    components: ['main', 'universe'],
    keyring: UBUNTU_KEYRING,
  });
  return {
    os: `ubuntu-${version}`,
    family: 'ubuntu',
    format: 'deb',
    manager: 'apt',
    codename,
    architectures: { amd64: 'amd64', arm64: 'arm64', arm: 'armhf', ppc64le: 'ppc64el', s390x: 's390x' },
    aptRepositories: [
      repo(codename, 'http://archive.ubuntu.com/ubuntu'),
      repo(`${codename}-updates`, 'http://archive.ubuntu.com/ubuntu'),
      repo(`${codename}-security`, 'http://security.ubuntu.com/ubuntu'),
    ],
    minimalPriorities: ['required'],
    minimalExtra: ['apt'],
    packages: debianPackages(),
    note: `Ubuntu's containerd and runc (main/universe); amd64 from archive.ubuntu.com, other architectures from ports.ubuntu.com; signatures checked against ${UBUNTU_KEYRING} (package ubuntu-keyring). ${extraNote}`,
  };
}

function fedoraRepositories(release: number): DnfRepository[] {
  const key = 'file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-$releasever-$basearch';
  // Releases past their end of life move to archives.fedoraproject.org, where the metalinks no longer point.
  if (release <= FEDORA_LAST_ARCHIVED) {
    const base = 'https://archives.fedoraproject.org/pub/archive/fedora/linux';
    return [
      { id: 'fedora', name: 'Fedora $releasever', baseurl: `${base}/releases/$releasever/Everything/$basearch/os/`, gpgkey: key },
      { id: 'updates', name: 'Fedora $releasever updates', baseurl: `${base}/updates/$releasever/Everything/$basearch/`, gpgkey: key },
    ];
  }
  const metalink = 'https://mirrors.fedoraproject.org/metalink';
  return [
    { id: 'fedora', name: 'Fedora $releasever', metalink: `${metalink}?repo=fedora-$releasever&arch=$basearch`, gpgkey: key },
    { id: 'updates', name: 'Fedora $releasever updates', metalink: `${metalink}?repo=updates-released-f$releasever&arch=$basearch`, gpgkey: key },
  ];
}

/** Fedora releases up to this one are end-of-life and served from the archive (as of late 2026). */
export const FEDORA_LAST_ARCHIVED = 41;
export const FEDORA_OLDEST = 37;

function fedora(release: number): OsRelease {
  return {
    os: `fedora-${release}`,
    family: 'fedora',
    format: 'rpm',
    manager: 'dnf',
    releasever: String(release),
    architectures: { amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le', s390x: 's390x' },
    dnfRepositories: fedoraRepositories(release),
    packages: [
      { name: 'containerd', why: `${why.containerd} (Fedora's own package; containerd.io from the docker-ce repository also works: --package containerd.io --no-package containerd)` },
      { name: 'runc', why: why.runc },
      { name: 'container-selinux', why: why.containerSelinux },
      { name: 'socat', why: why.socat },
      { name: 'conntrack-tools', why: why.conntrack },
      { name: 'ebtables-legacy', why: `${why.ebtables} (legacy backend, matching iptables-legacy)` },
      { name: 'ipset', why: why.ipset },
      { name: 'iptables-legacy', why: `${why.iptables} (the legacy backend the classic procedure selects)` },
      { name: 'ethtool', why: why.ethtool },
      { name: 'iproute', why: why.iproute },
      { name: 'iproute-tc', why: 'tc: kubeadm preflight warns without it' },
      { name: 'libcgroup', why: why.libcgroup },
      { name: 'ca-certificates', why: why.caCertificates },
      { name: 'kmod', why: why.kmod },
    ],
    note: `Fedora's own repositories${release <= FEDORA_LAST_ARCHIVED ? ' (end of life: archives.fedoraproject.org)' : ''}; RPM signatures checked against RPM-GPG-KEY-fedora-${release} from fedora-gpg-keys (present in a fedora:${release} container). No minimal-install baseline without an inventory: the closure carries every dependency (dnf --alldeps), and the far side installs only what it lacks.`,
  };
}

function rhel(version: string): OsRelease {
  return {
    os: `rhel-${version}`,
    family: 'rhel',
    format: 'rpm',
    manager: 'dnf',
    releasever: version,
    architectures: { amd64: 'x86_64', arm64: 'aarch64', ppc64le: 'ppc64le', s390x: 's390x' },
    useSystemRepositories: true,
    dnfRepositories: [
      {
        id: 'docker-ce-stable',
        name: 'Docker CE stable (containerd.io)',
        baseurl: 'https://download.docker.com/linux/rhel/$releasever/$basearch/stable',
        gpgkey: 'https://download.docker.com/linux/rhel/gpg',
      },
    ],
    packages: [
      { name: 'containerd.io', why: `${why.containerd} (RHEL ships none; Docker's containerd.io repository)` },
      { name: 'container-selinux', why: why.containerSelinux },
      { name: 'socat', why: why.socat },
      { name: 'conntrack-tools', why: why.conntrack },
      { name: 'iptables-nft', why: `${why.iptables}; also provides ebtables (RHEL 9 has no legacy backend)` },
      { name: 'ipset', why: why.ipset },
      { name: 'ethtool', why: why.ethtool },
      { name: 'iproute', why: why.iproute },
      { name: 'iproute-tc', why: 'tc: kubeadm preflight warns without it' },
      { name: 'ca-certificates', why: why.caCertificates },
      { name: 'kmod', why: why.kmod },
    ],
    note: "BaseOS and AppStream come from the resolving host's own, subscribed repositories (run ag-fetch download on a registered RHEL host or in a ubi9 container with entitlements); containerd.io from Docker's repository, whose key is fetched from download.docker.com. containerd.io bundles runc. libcgroup is gone in RHEL 9 (cgroup v2).",
  };
}

const RELEASES: OsRelease[] = [
  debian('11', 'bullseye', 'Debian 11 is in LTS; prefer 12.'),
  debian('12', 'bookworm', 'containerd 1.6.20 and runc 1.1.5 with security updates.'),
  debian('13', 'trixie', ''),
  ubuntu('22.04', 'jammy', ''),
  ubuntu('24.04', 'noble', ''),
  rhel('9'),
];

/** Every OS id `plan --os` accepts, for help and error messages. */
export function knownOsReleases(): string[] {
  return [...RELEASES.map((r) => r.os), `fedora-${FEDORA_OLDEST}…`, 'rhel-9.N'];
}

/** The release for a `cluster.os` id, or undefined when ag does not know it. */
export function findOsRelease(os: string): OsRelease | undefined {
  const known = RELEASES.find((r) => r.os === os);
  if (known !== undefined) return known;
  const fedoraMatch = /^fedora-(\d+)$/.exec(os);
  if (fedoraMatch) {
    const release = Number(fedoraMatch[1]);
    return release >= FEDORA_OLDEST ? fedora(release) : undefined;
  }
  // rhel-9.4: a minor release pins $releasever (for an EUS subscription).
  if (/^rhel-9\.\d+$/.test(os)) return rhel(os.slice('rhel-'.length));
  return undefined;
}
