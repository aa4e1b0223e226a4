#!/usr/bin/env bash
# The HA topology's load balancer (AG_HA=1): HAProxy passing TCP 6443 to every
# control plane's API server, as kubeadm's HA guide sets it up
# (kubernetes/kubeadm docs/ha-considerations.md). Installed from the box's
# package manager before provision/airgap.sh cuts the VM off: the bundle does
# not carry HAProxy.
set -euo pipefail
: "${AG_BACKENDS:?AG_BACKENDS lists the control planes, host:port separated by spaces}"

if ! command -v haproxy >/dev/null; then
  if command -v dnf >/dev/null; then dnf install -y -q haproxy; else DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; fi
fi
{
  printf 'global\n  log /dev/log local0\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n'
  printf 'frontend apiserver\n  bind *:6443\n  default_backend apiserver\n'
  printf 'backend apiserver\n  option tcp-check\n  balance roundrobin\n'
  i=0
  for backend in $AG_BACKENDS; do
    i=$((i + 1))
    printf '  server cp%d %s check fall 3 rise 2\n' "$i" "$backend"
  done
} > /etc/haproxy/haproxy.cfg
haproxy -c -f /etc/haproxy/haproxy.cfg
systemctl enable --now haproxy
systemctl restart haproxy
