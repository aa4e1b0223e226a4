#!/bin/sh
# A pod on a worker reaches a pod on a control plane across flannel's
# overlay: a podinfo pod pinned to CONTROL-PLANE (tolerating its taint, as an
# HA control plane keeps it) answers /version at its pod IP, fetched from a
# probe pod pinned to WORKER. Neither uses a service or the host network.
#
#   check-pod-network.sh WORKER CONTROL-PLANE IMAGE
set -eu
worker=$1 cp=$2 image=$3
pinned() { printf '{"spec":{"nodeName":"%s","tolerations":[{"operator":"Exists"}]}}' "$1"; }
kubectl delete pod ag-target ag-probe --ignore-not-found --wait
kubectl run ag-target --image="$image" --restart=Never --overrides="$(pinned "$cp")"
kubectl run ag-probe --image="$image" --restart=Never --overrides="$(pinned "$worker")" --command -- sleep 600
kubectl wait --for=condition=Ready pod/ag-target pod/ag-probe --timeout=3m
target=$(kubectl get pod ag-target -o jsonpath='{.status.podIP}')
echo "podinfo on $cp at $target, fetched from a pod on $worker:"
kubectl exec ag-probe -- wget -qO- -T 10 "http://$target:9898/version"
echo
kubectl delete pod ag-target ag-probe --wait=false
