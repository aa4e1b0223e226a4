#!/bin/sh
# The first thing done on the far side, with nothing but the bundle, tar,
# xz, coreutils and openssl (no Node.js): check the signature of SHA256SUMS
# against the public key carried across once before, check the one member
# needed to go on against it (tools/<arch>/ag, the single executable with
# every ag tool and Node.js built in), then run it as ag-bundle to verify
# the whole bundle. Its document goes to stdout; everything else to stderr.
#
#   far-bootstrap.sh BUNDLE.tar PUBLIC-KEY.pem WORK-DIR [ARCH] > verified.json
#
# Leaves WORK-DIR/boot/{SHA256SUMS,SHA256SUMS.sig,tools/ARCH/ag} and the link
# WORK-DIR/boot/tools/ARCH/ag-bundle -> ag. ARCH defaults to this machine's
# (amd64, arm64). Used as is by run.sh (on the air-gapped VMs) and by the
# simulated-gap e2e test (e2e/src/far-side.ts).
set -eu
# What this script and the tools it starts need of the node (xz: the bundle's
# compressed members, the OS packages' archives). Named all at once, before
# anything is written, rather than failing halfway on the first one.
missing=
for program in tar xz openssl sha256sum awk; do
  command -v "$program" >/dev/null 2>&1 || missing="$missing $program"
done
if [ -n "$missing" ]; then
  echo "far-bootstrap: this node lacks:$missing; install them before the air gap closes (provision/airgap.sh does on the Vagrant boxes: dnf install tar xz openssl, or apt-get install tar xz-utils openssl)" >&2
  exit 127
fi
bundle=$1 key=$2 work=$3 arch=${4:-$(uname -m)}
case "$arch" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "far-bootstrap: no ag executable for $arch (the bundle carries amd64 and arm64)" >&2; exit 2 ;;
esac
exe=tools/$arch/ag
set -x
mkdir -p "$work/boot"
tar -xf "$bundle" -C "$work/boot" SHA256SUMS SHA256SUMS.sig "$exe"
openssl dgst -sha256 -verify "$key" -signature "$work/boot/SHA256SUMS.sig" "$work/boot/SHA256SUMS" >&2
# Exactly this line of the signed list; sha256sum -c fails when it is absent or differs.
awk -v exe="$exe" '$2 == exe' "$work/boot/SHA256SUMS" > "$work/boot/BOOTSTRAP.sums"
test "$(wc -l < "$work/boot/BOOTSTRAP.sums")" -eq 1
(cd "$work/boot" && sha256sum --strict -c BOOTSTRAP.sums) >&2
# The executable runs the tool it is named after.
ln -sf ag "$work/boot/tools/$arch/ag-bundle"
"$work/boot/tools/$arch/ag-bundle" --version >&2
"$work/boot/tools/$arch/ag-bundle" verify "$bundle" --key "$key"
