#!/bin/sh
# DNS stays inside the site: systemd-resolved is not running (its stub would
# forward to the provider's DHCP resolver), /etc/resolv.conf and the
# kubelet's /etc/kubernetes/resolv.conf name only the site's resolver, a
# cluster name resolves from a pod and a public name does not.
#
#   check-dns.sh SITE-RESOLVER
# (AG_CHECK_ROOT prefixes the two files: the checks' own test runs it on a tree.)
set -eu
site=$1 root=${AG_CHECK_ROOT:-}
if systemctl is-active --quiet systemd-resolved 2>/dev/null; then
  echo "check-dns: systemd-resolved is running: lookups leave through its upstream servers" >&2; exit 1
fi
for file in "$root/etc/resolv.conf" "$root/etc/kubernetes/resolv.conf"; do
  servers=$(awk '$1 == "nameserver" { print $2 }' "$file" | sort -u | tr '\n' ' ')
  if [ "$servers" != "$site " ]; then
    echo "check-dns: $file names [$servers], not only the site resolver $site" >&2; exit 1
  fi
done
pod=$(kubectl get pods -l app.kubernetes.io/name=podinfo -o jsonpath='{.items[0].metadata.name}')
kubectl exec "$pod" -- nslookup kubernetes.default.svc.cluster.local
if kubectl exec "$pod" -- nslookup dl.k8s.io; then
  echo "check-dns: dl.k8s.io resolved from a pod: CoreDNS reaches a resolver outside the site" >&2; exit 1
fi
echo "check-dns: a public name does not resolve from a pod"
