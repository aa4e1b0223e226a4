#!/bin/sh
# On the first control plane: gathers what a joining node needs into OUT-DIR,
# to be carried to it: the init document, the join token (0600), the
# certificate key for another control plane (HA, 0600), and the internal
# registry's CA and credentials (0600) at the same paths relative to the
# working directory, which is the same on every node.
#
#   join-files.sh INIT-DOCUMENT OUT-DIR
set -eu
init=$1 out=$2
rm -rf "$out"
mkdir -p "$out/registry/certs" "$out/registry/auth"
cp "$init" "$out/init.json"
install -m 0600 /etc/kubernetes/ag/join-token "$out/join-token"
if [ -f /etc/kubernetes/ag/certificate-key ]; then install -m 0600 /etc/kubernetes/ag/certificate-key "$out/certificate-key"; fi
cp registry/certs/ca.crt "$out/registry/certs/ca.crt"
install -m 0600 registry/auth/credentials "$out/registry/auth/credentials"
