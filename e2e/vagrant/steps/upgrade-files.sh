#!/bin/sh
# On the first control plane, after ag-kubeadm upgrade apply: gathers what
# `ag-kubeadm upgrade node` needs on every other node into OUT-DIR, to be
# carried to it: the upgraded document (the new release's kubeadm section;
# its bundle paths hold on every node, the working directory being the same)
# and an admin kubeconfig (0600) for drain and uncordon where the node has
# none (a worker: kubeadm's upgrade guide drains it from a control plane).
#
#   upgrade-files.sh UPGRADED-DOCUMENT OUT-DIR
set -eu
upgraded=$1 out=$2
rm -rf "$out"
mkdir -p "$out"
cp "$upgraded" "$out/upgraded.json"
install -m 0600 /etc/kubernetes/admin.conf "$out/admin.conf"
