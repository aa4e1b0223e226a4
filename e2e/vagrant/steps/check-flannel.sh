#!/bin/sh
# Every node named has a Running kube-flannel pod. A node reports Ready even
# when flanneld exits on it (its --iface names an address another node has),
# so the node's condition alone proves nothing about the pod network.
#
#   check-flannel.sh NODE...
set -eu
kubectl -n kube-flannel rollout status daemonset/kube-flannel-ds --timeout=5m
pods=$(kubectl -n kube-flannel get pods -o jsonpath='{range .items[*]}{.spec.nodeName}={.status.phase}{"\n"}{end}')
echo "$pods"
failed=
for node in "$@"; do
  echo "$pods" | grep -qx "$node=Running" || failed="$failed $node"
done
if [ -n "$failed" ]; then
  echo "check-flannel: no Running flannel pod on:$failed" >&2
  kubectl -n kube-flannel logs -l app=flannel --tail=20 --prefix >&2 || true
  exit 1
fi
