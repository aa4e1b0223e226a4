#!/bin/sh
# After ag-kubeadm upgrade apply or upgrade node: the API server and NODE's kubelet report
# VERSION, NODE is schedulable again, podinfo is still rolled out.
#
#   check-upgrade.sh NODE VERSION
set -eu
node=$1 version=$2
for _ in $(seq 60); do
  [ "$(kubectl get node "$node" -o jsonpath='{.status.nodeInfo.kubeletVersion}')" = "$version" ] && break
  sleep 5
done
kubectl get nodes -o wide
test "$(kubectl get node "$node" -o jsonpath='{.status.nodeInfo.kubeletVersion}')" = "$version"
test "$(kubectl version -o json | grep -A3 serverVersion | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p')" = "$version"
test "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" != true
kubectl rollout status deployment/podinfo --timeout=5m
