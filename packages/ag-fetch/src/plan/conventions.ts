import { UsageError } from '@ag/core';
import type { Architecture } from './request.js';
import { atLeast } from './semver.js';

/*
 * How each upstream publishes its release files, era by era. Every rule names
 * the upstream file it follows; conventions.test.ts pins each boundary.
 */

/**
 * k9s's goreleaser checksum file: `checksums.txt` up to v0.27.4, then
 * `checksums.sha256` (derailed/k9s .goreleaser.yml, `checksum.name_template`,
 * changed by commit 8af2956d "Changed checksums extension to checksums.sha256",
 * first released in v0.28.0). Either lists every asset as `digest  name`.
 */
export function k9sChecksumFile(version: string): 'checksums.txt' | 'checksums.sha256' {
  return atLeast(version, 'v0.28.0') ? 'checksums.sha256' : 'checksums.txt';
}

/**
 * k9s archive names: `k9s_Linux_<arch>.tar.gz`, where 32-bit arm is built with
 * GOARM=7 and named `armv7` (derailed/k9s .goreleaser.yml, `archives.name_template`
 * `{{ .Arch }}{{ if .Arm }}v{{ .Arm }}{{ end }}`, since v0.27.0; before it, x86_64 for amd64).
 */
export function k9sAsset(version: string, arch: Architecture): string {
  if (!atLeast(version, 'v0.27.0')) {
    throw new UsageError(`k9s ${version}: releases before v0.27.0 name their archives differently (x86_64) and are not supported`, {
      hint: 'use --component k9s=v0.27.0 or newer',
    });
  }
  return `k9s_Linux_${arch === 'arm' ? 'armv7' : arch}.tar.gz`;
}

/**
 * crictl for linux/arm stopped with v1.28: cri-tools commit b12bab01 "Drop
 * support for linux/arm platform" (hack/release.sh), first in v1.29.0. Every
 * other architecture ships `crictl-<v>-linux-<arch>.tar.gz` with a `.sha256`
 * holding the bare digest (hack/release.sh `tee "$file.sha256"`, since v1.21).
 */
export function crictlUnavailable(version: string, arch: Architecture): string | undefined {
  return arch === 'arm' && atLeast(version, 'v1.29.0') ? `cri-tools publishes no linux/arm crictl from v1.29.0 on (it dropped the platform)` : undefined;
}

/**
 * Where kubernetes/release keeps the kubelet unit and kubeadm's drop-in:
 * `cmd/kubepkg/templates/latest/deb/…` until kubepkg was removed (commit
 * 02152c9d "Remove kubepkg and rapture", first in v0.16.3), and
 * `cmd/krel/templates/latest/{kubelet,kubeadm}/…` since v0.16.0 (commit
 * cd538401 "Move specs to cmd/krel/templates/latest"). Upstream publishes no
 * checksum for either: plan pins what it fetched.
 */
export function kubeletTemplateUrls(release: string): { unit: string; dropIn: string } {
  const raw = `https://raw.githubusercontent.com/kubernetes/release/${release}`;
  if (atLeast(release, 'v0.16.0')) {
    return { unit: `${raw}/cmd/krel/templates/latest/kubelet/kubelet.service`, dropIn: `${raw}/cmd/krel/templates/latest/kubeadm/10-kubeadm.conf` };
  }
  const deb = `${raw}/cmd/kubepkg/templates/latest/deb`;
  return { unit: `${deb}/kubelet/lib/systemd/system/kubelet.service`, dropIn: `${deb}/kubeadm/10-kubeadm.conf` };
}

/*
 * The others have one convention across every release ag plans:
 * - Kubernetes binaries: dl.k8s.io/release/<v>/bin/linux/<arch>/<name>.sha256, the bare digest.
 * - CNI plugins: `<asset>.sha256` as sha256sum prints it, `digest  name`
 *   (scripts/release.sh up to v1.4.0, .github/workflows/release.yaml from v1.4.1).
 * - helm: get.helm.sh `<asset>.sha256sum`, `digest  name`, and `<asset>.sha256`,
 *   the bare digest (Makefile `checksum` target, helm 3 and helm 4 alike).
 * - flannel: no checksum for kube-flannel.yml (release.yml uploads flannel.tgz
 *   and kube-flannel.yml only); plan pins what it fetched.
 */

/**
 * containerd's release archives: `containerd-<version without v>-linux-<arch>.tar.gz`
 * holding `bin/` (containerd, containerd-shim-runc-v2, ctr, containerd-stress),
 * with `<asset>.sha256sum` as sha256sum prints it (containerd
 * .github/workflows/release.yml: `tar czf … bin/` and `sha256sum ${TARFILE}
 * >${TARFILE}.sha256sum`, then the same through .github/workflows/release/Dockerfile).
 * The release matrix builds linux/amd64, arm64, ppc64le, s390x and riscv64:
 * no 32-bit arm archive.
 */
export function containerdAsset(version: string, arch: Architecture): string {
  return `containerd-${version.replace(/^v/, '')}-linux-${arch}.tar.gz`;
}

export function containerdUnavailable(_version: string, arch: Architecture): string | undefined {
  return arch === 'arm' ? 'containerd publishes no linux/arm release archive' : undefined;
}

/**
 * runc's release binaries: `runc.<arch>` (static; 32-bit arm as `runc.armhf`),
 * all listed with the source archive in one `runc.sha256sum`, `digest
 * runc.amd64` (opencontainers/runc script/release_build.sh: `mv … runc.$arch`,
 * then `sha256sum runc.<each arch> runc.tar.xz > runc.sha256sum`).
 */
export function runcAsset(arch: Architecture): string {
  return `runc.${arch === 'arm' ? 'armhf' : arch}`;
}
