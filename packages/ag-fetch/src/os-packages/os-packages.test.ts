import { describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { main } from '../cli.js';
import { joinNoPackageValues } from './cli-support.js';
import { installedPackages, installedStanza } from './apt-baseline.js';
import { archiveFileName } from './apt-resolve.js';
import { parseSimulation } from './apt-simulate.js';
import { aptSources, renderAptConfig, renderSourcesList } from './apt-state.js';
import { formatStanzas, parseStanzas } from './deb822.js';
import { renderPackagesIndex, renderRelease } from './deb-repository.js';
import { createrepoCommand, planDnfDownload, verifyCommand } from './dnf-plan.js';
import { findOsRelease, knownOsReleases } from './os-releases.js';
import { planOsPackages } from './plan-os-packages.js';

describe('planOsPackages', () => {
  it("names a kubeadm node's Debian 12 packages by Debian's names, with why each is there", () => {
    const section = planOsPackages({ os: 'debian-12', architectures: ['amd64', 'arm64'] });
    expect(section).toMatchObject({ os: 'debian-12', format: 'deb', manager: 'apt', architectures: ['amd64', 'arm64'] });
    expect(section.requested).toEqual(['containerd', 'runc', 'socat', 'conntrack', 'ebtables', 'ipset', 'iptables', 'ethtool', 'iproute2', 'ca-certificates', 'kmod']);
    expect(section.reasons?.['conntrack']).toMatch(/preflight/);
  });

  it("uses Fedora's and RHEL's own names", () => {
    const fedora = planOsPackages({ os: 'fedora-37', architectures: ['amd64', 'arm64'] });
    expect(fedora).toMatchObject({ format: 'rpm', manager: 'dnf', architectures: ['x86_64', 'aarch64'] });
    expect(fedora.requested).toEqual(expect.arrayContaining(['containerd', 'runc', 'socat', 'conntrack-tools', 'ebtables-legacy', 'ipset', 'iptables-legacy', 'ethtool', 'libcgroup', 'ca-certificates']));
    const rhel = planOsPackages({ os: 'rhel-9', architectures: ['amd64'] });
    expect(rhel.requested).toEqual(expect.arrayContaining(['containerd.io', 'container-selinux', 'conntrack-tools', 'iptables-nft']));
    expect(rhel.requested).not.toContain('libcgroup');
    expect(planOsPackages({ os: 'fedora-40', architectures: ['amd64'] }).os).toBe('fedora-40');
    expect(planOsPackages({ os: 'rhel-9.4', architectures: ['amd64'] }).os).toBe('rhel-9.4');
  });

  it('adds with --package and removes with --no-package', () => {
    const section = planOsPackages({ os: 'fedora-37', architectures: ['amd64'], add: ['containerd.io', 'vim-minimal'], remove: ['containerd'] });
    expect(section.requested).not.toContain('containerd');
    expect(section.requested.slice(-2)).toEqual(['containerd.io', 'vim-minimal']);
    expect(section.reasons?.['vim-minimal']).toBe('asked for with --package');
  });

  it('refuses what it cannot plan, as usage errors that say what it knows', () => {
    expect(() => planOsPackages({ os: 'arch-2024', architectures: ['amd64'] })).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('debian-12') }));
    expect(() => planOsPackages({ os: 'fedora-36', architectures: ['amd64'] })).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => planOsPackages({ os: 'fedora-37', architectures: ['arm'] })).toThrow(/no packages for architecture arm/);
    expect(() => planOsPackages({ os: 'debian-12', architectures: ['amd64'], remove: ['nano'] })).toThrow(/--no-package nano/);
    expect(() => planOsPackages({ os: 'debian-12', architectures: ['amd64'], add: ['a b'] })).toThrow(/not a package name/);
    expect(knownOsReleases()).toEqual(expect.arrayContaining(['debian-12', 'ubuntu-22.04', 'ubuntu-24.04', 'rhel-9']));
  });
});

describe('apt, privately', () => {
  it('points every apt directory into the private tree and checks each suite against its keyring', () => {
    const config = renderAptConfig('/cache/debian-12-arm64', 'arm64', false);
    expect(config).toContain('Dir::Etc "/cache/debian-12-arm64/etc/";');
    expect(config).toContain('Dir::State::lists "/cache/debian-12-arm64/lists/";');
    expect(config).toContain('APT::Architectures { "arm64"; };');
    expect(config).toContain('APT::Install-Recommends "false";');
    expect(config).not.toMatch(/"\/etc\/apt|"\/var\/lib\/(apt|dpkg)/);
    const lines = renderSourcesList(aptSources(findOsRelease('debian-12')!, 'arm64'), 'arm64');
    expect(lines).toBe(
      [
        'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main',
        'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main',
        'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main',
        '',
      ].join('\n'),
    );
    // Ubuntu splits its architectures across two archives.
    expect(aptSources(findOsRelease('ubuntu-22.04')!, 'amd64')[0]).toMatchObject({ uri: 'http://archive.ubuntu.com/ubuntu', suite: 'jammy', components: ['main', 'universe'] });
    expect(aptSources(findOsRelease('ubuntu-24.04')!, 'arm64')[2]).toMatchObject({ uri: 'http://ports.ubuntu.com/ubuntu-ports', suite: 'noble-security' });
  });

  it('reads what apt would install, upgrades and removals included', () => {
    const simulation = parseSimulation(
      [
        'NOTE: This is only a simulation!',
        'Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])',
        'Inst ca-certificates (20230311 Debian:12.8/stable [all])',
        'Remv iptables-nft [1.8.9-2]',
        'Conf ca-certificates (20230311 Debian:12.8/stable [all])',
      ].join('\n'),
    );
    expect(simulation).toEqual({
      installs: [
        { name: 'libssl3', version: '3.0.15-1~deb12u1', arch: 'amd64', replaces: '3.0.11-1~deb12u2' },
        { name: 'ca-certificates', version: '20230311', arch: 'all' },
      ],
      removals: ['iptables-nft'],
    });
  });

  it("names downloaded archives as apt does (epochs escaped)", () => {
    expect(archiveFileName('libbpf1', '1:1.1.2-0+deb12u1', 'amd64')).toBe('libbpf1_1%3a1.1.2-0+deb12u1_amd64.deb');
    expect(archiveFileName('containerd', '1.6.20~ds1-1+deb12u3', 'amd64')).toBe('containerd_1.6.20~ds1-1+deb12u3_amd64.deb');
  });

  it('turns index records into installed status records and back', () => {
    const [record] = parseStanzas('Package: socat\nVersion: 1.7.4.4-2\nArchitecture: amd64\nDepends: libc6 (>= 2.34)\nFilename: pool/main/s/socat/socat_1.7.4.4-2_amd64.deb\nSize: 375000\nSHA256: ab\nDescription: multipurpose relay\n relays bidirectional data\n');
    const status = installedStanza(record!);
    expect([...status.keys()]).toEqual(['Package', 'Status', 'Version', 'Architecture', 'Depends', 'Description']);
    expect(formatStanzas([status])).toContain('Description: multipurpose relay\n relays bidirectional data\n');
    const installed = installedPackages(`${formatStanzas([status])}\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n`);
    expect([...installed]).toEqual([['socat', { version: '1.7.4.4-2', arch: 'amd64' }]]);
  });

  it("writes the bundle's index from the archive's records, and a Release that hashes it", () => {
    const [record] = parseStanzas('Package: runc\nVersion: 1.1.5+ds1-1+deb12u1\nArchitecture: amd64\nFilename: pool/main/r/runc/runc_1.1.5+ds1-1+deb12u1_amd64.deb\nSHA256: cd\nSize: 9\n');
    const index = renderPackagesIndex([{ record: record!, path: 'pool/runc_1.1.5+ds1-1+deb12u1_amd64.deb' }]);
    expect(index).toContain('Filename: pool/runc_1.1.5+ds1-1+deb12u1_amd64.deb\n');
    expect(index).toContain('SHA256: cd\n');
    const release = renderRelease([{ name: 'Packages', data: 'x' }], ['amd64', 'all'], new Date('2026-01-02T03:04:05Z'));
    expect(release).toContain('Date: Fri, 02 Jan 2026 03:04:05 GMT\n');
    expect(release).toContain('Architectures: all amd64\n');
    expect(release).toContain(' 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 1 Packages\n');
  });
});

describe('dnf, privately', () => {
  const fedora = findOsRelease('fedora-37')!;
  const section = planOsPackages({ os: 'fedora-37', architectures: ['arm64'] });

  it('resolves in an empty install root with its own config, repositories and architecture', () => {
    const plan = planDnfDownload(fedora, section, 'aarch64', '/cache/fedora-37-aarch64', '/bundle/packages');
    const [makecache, download] = plan.commands;
    const common = [
      '--config=/cache/fedora-37-aarch64/dnf.conf',
      '--installroot=/cache/fedora-37-aarch64/root',
      '--releasever=37',
      '--forcearch=aarch64',
      '--setopt=reposdir=/cache/fedora-37-aarch64/repos.d',
      '--disableplugin=*',
      '--enableplugin=download',
    ];
    expect(makecache?.argv).toEqual(['dnf', ...common, '--assumeyes', 'makecache']);
    expect(download?.argv).toEqual(['dnf', ...common, '--assumeyes', 'download', '--resolve', '--alldeps', '--destdir=/cache/fedora-37-aarch64/download', ...section.requested]);
    expect(plan.files['repos.d/ag.repo']).toContain('[updates]\nname=Fedora $releasever updates\nbaseurl=https://archives.fedoraproject.org/pub/archive/fedora/linux/updates/$releasever/Everything/$basearch/\nenabled=1\ngpgcheck=1\n');
    expect(plan.files['dnf.conf']).toContain('install_weak_deps=False');
    expect(plan.keys).toEqual(['file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-37-aarch64']);
    expect(verifyCommand(plan, ['/x.rpm']).argv).toEqual(['rpmkeys', '--root=/cache/fedora-37-aarch64/root', '--checksig', '--define=_pkgverify_level all', '/x.rpm']);
    expect(createrepoCommand('/bundle/packages').argv).toEqual(['createrepo_c', '--no-database', '--simple-md-filenames', '/bundle/packages']);
  });

  it("uses a current Fedora's metalinks, and RHEL's subscribed repositories plus Docker's", () => {
    const current = planDnfDownload(findOsRelease('fedora-43')!, section, 'x86_64', '/c', '/b');
    expect(current.files['repos.d/ag.repo']).toContain('metalink=https://mirrors.fedoraproject.org/metalink?repo=fedora-$releasever&arch=$basearch');
    const rhel = planDnfDownload(findOsRelease('rhel-9')!, planOsPackages({ os: 'rhel-9', architectures: ['amd64'] }), 'x86_64', '/c', '/b');
    expect(rhel.commands[0]?.argv).toContain('--setopt=reposdir=/etc/yum.repos.d,/c/repos.d');
    expect(rhel.sources.map((s) => s.uri)).toEqual(['/etc/yum.repos.d (the subscribed BaseOS and AppStream)', 'https://download.docker.com/linux/rhel/9/x86_64/stable']);
  });
});

describe('ag-fetch plan, OS packages', () => {
  const plan = async (extra: string[]) => {
    const io = createTestIo();
    const code = await main(['plan', '--kubernetes-version', 'v1.27.3', '--no-checksums', '--image-list', 'table', '--dir', '/tmp/ag-plan-test', ...extra], io);
    return { code, io };
  };

  it('writes the packages section, with --package and --no-package (also --no-package=NAME)', async () => {
    const { code, io } = await plan(['--os', 'debian-12', '--arch', 'amd64', '--arch', 'arm64', '--package', 'jq,curl', '--no-package', 'kmod', '--no-package=ethtool']);
    expect(code, io.stderrText()).toBe(0);
    const { packages } = JSON.parse(io.stdoutText()) as AgDocument;
    expect(packages).toMatchObject({ os: 'debian-12', format: 'deb', architectures: ['amd64', 'arm64'] });
    expect(packages?.requested).toEqual(['containerd', 'runc', 'socat', 'conntrack', 'ebtables', 'ipset', 'iptables', 'iproute2', 'ca-certificates', 'jq', 'curl']);
  });

  it('refuses an OS whose packages it does not know (exit 2)', async () => {
    const { code, io } = await plan(['--os', 'gentoo-2']);
    expect(code).toBe(2);
    expect(io.stderrText()).toContain('ag does not know the OS packages of "gentoo-2"');
  });

  it('joins the two-word --no-package so yargs does not read it as a negation', () => {
    expect(joinNoPackageValues(['plan', '--no-package', 'kmod', '--no-package=x', '--no-package', '--pretty', '--', '--no-package', 'y'])).toEqual(['plan', '--no-package=kmod', '--no-package=x', '--no-package', '--pretty', '--', '--no-package', 'y']);
  });
});
