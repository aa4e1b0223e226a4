#!/bin/sh
# The first thing done on the far side, with nothing but the bundle, coreutils,
# tar, xz and openssl: check the signature of SHA256SUMS against the public key
# carried across once before, check the two members needed to go on (the
# verifier tools/ag-bundle.mjs and the Node.js tarball) against it, and unpack
# Node.js. Everything else is then checked by ag-bundle verify, run with that
# Node and that ag-bundle.
#
#   far-bootstrap.sh BUNDLE.tar PUBLIC-KEY.pem WORK-DIR NODE-MEMBER
#
# Leaves WORK-DIR/boot/{SHA256SUMS,SHA256SUMS.sig,tools/ag-bundle.mjs,NODE-MEMBER}
# and Node.js in WORK-DIR/node (bin/node). Used as is by run.sh (on the
# air-gapped VMs) and by the simulated-gap e2e test (e2e/src/far-side.ts).
set -eu
bundle=$1 key=$2 work=$3 node_member=$4
case "$node_member" in *[!A-Za-z0-9._/-]*) echo "far-bootstrap: odd member name: $node_member" >&2; exit 2 ;; esac
set -x
mkdir -p "$work/boot" "$work/node"
tar -xf "$bundle" -C "$work/boot" SHA256SUMS SHA256SUMS.sig tools/ag-bundle.mjs "$node_member"
openssl dgst -sha256 -verify "$key" -signature "$work/boot/SHA256SUMS.sig" "$work/boot/SHA256SUMS"
# Exactly these two lines of the signed list; sha256sum -c fails when either is absent or differs.
awk -v a=tools/ag-bundle.mjs -v b="$node_member" '$2 == a || $2 == b' "$work/boot/SHA256SUMS" > "$work/boot/BOOTSTRAP.sums"
test "$(wc -l < "$work/boot/BOOTSTRAP.sums")" -eq 2
(cd "$work/boot" && sha256sum --strict -c BOOTSTRAP.sums)
tar -xJf "$work/boot/$node_member" -C "$work/node" --strip-components=1 --no-same-owner
"$work/node/bin/node" --version
