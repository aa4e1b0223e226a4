#!/usr/bin/env bash
# The connected VM: Node.js 20 (the distributions' packages are older; the
# official tarball is checked against its SHASUMS256.txt) and the repository's
# dependencies. This VM has the internet; the air-gapped ones never get it.
set -euo pipefail

NODE_VERSION="${AG_NODE_VERSION:-v20.20.0}"
case "$(uname -m)" in x86_64) node_arch=x64 ;; aarch64) node_arch=arm64 ;; *) echo "unsupported arch $(uname -m)" >&2; exit 1 ;; esac
tarball="node-${NODE_VERSION}-linux-${node_arch}.tar.xz"

if ! /usr/local/bin/node --version 2>/dev/null | grep -q "^${NODE_VERSION}$"; then
  work=$(mktemp -d)
  curl -fsSL -o "$work/$tarball" "https://nodejs.org/dist/${NODE_VERSION}/${tarball}"
  curl -fsSL -o "$work/SHASUMS256.txt" "https://nodejs.org/dist/${NODE_VERSION}/SHASUMS256.txt"
  (cd "$work" && grep " ${tarball}\$" SHASUMS256.txt | sha256sum -c -)
  tar -xJf "$work/$tarball" -C /usr/local --strip-components=1
  rm -rf "$work"
fi

if command -v dnf >/dev/null; then
  dnf install -y -q tar xz jq openssl dnf-plugins-core createrepo_c
elif command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq tar xz-utils jq openssl apt-utils dpkg-dev
fi
/usr/local/bin/node --version
cd /ag && /usr/local/bin/npm ci --no-audit --no-fund
# The single executable the bundle carries to the air-gapped VMs (which have no Node.js), for this
# VM's architecture only: the other one needs qemu-user (npm run build makes both).
case "$(uname -m)" in x86_64) ag_arch=amd64 ;; aarch64) ag_arch=arm64 ;; esac
/usr/local/bin/node --import tsx tools/build/src/executables.ts --arch "$ag_arch"
