#!/usr/bin/env bash
# The real parts ag's tests run against (see shared DESIGN, "Real parts, not
# imitations"). Idempotent; needs root and Debian's archive.
set -euo pipefail

packages=(
  docker-registry   # the distribution registry: upstream and internal registries in tests
  skopeo            # the reference client
  containerd runc   # the container runtime on every node
  busybox-static    # a static binary to put in generated images that containerd runs
  debootstrap       # minimal Debian roots for the offline package install
  dpkg-dev apt-utils  # local apt repositories (Packages indexes)
  dnf dnf-plugins-core createrepo-c rpm  # the rpm path of OS packages: dnf download/install, repodata, rpmbuild/rpmsign
  iproute2 iptables # network namespaces for the simulated air gap
  openssl ca-certificates jq procps psmisc kmod
  # The arm64 single executable: its Node.js makes the tools' code caches at build time and the
  # tests run it (qemu-aarch64-static -L /usr/aarch64-linux-gnu), with Debian's arm64 cross libraries.
  qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "debian packages ready: ${packages[*]}" >&2
