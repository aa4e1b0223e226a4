#!/bin/sh
# A pod on a worker reaches a pod on a control plane across flannel's
# overlay: a probe pod pinned to WORKER fetches podinfo's /version from the
# podinfo pod on CONTROL-PLANE (by its pod IP, not a service).
#
#   check-pod-network.sh WORKER CONTROL-PLANE IMAGE
set -eu
worker=$1 cp=$2 image=$3
target=$(kubectl get pods -l app.kubernetes.io/name=podinfo --field-selector "spec.nodeName=$cp" -o jsonpath='{.items[0].status.podIP}')
test -n "$target" || { echo "check-pod-network: no podinfo pod on $cp" >&2; exit 1; }
kubectl delete pod ag-probe --ignore-not-found --wait
kubectl run ag-probe --image="$image" --restart=Never --overrides="{\"spec\":{\"nodeName\":\"$worker\"}}" --command -- sleep 600
kubectl wait --for=condition=Ready pod/ag-probe --timeout=3m
kubectl exec ag-probe -- wget -qO- -T 10 "http://$target:9898/version"
echo
