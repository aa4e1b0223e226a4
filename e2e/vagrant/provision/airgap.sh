#!/usr/bin/env bash
# Cut an air-gapped VM off: the default route goes to a dummy interface, so
# every packet for the internet is dropped. What stays: the provider's
# management link (vagrant ssh) and the lab network (${AG_LAB_NET}.0/24).
# Runs at every boot (run: always) because routes do not persist.
set -euo pipefail

ip link show ag-blackhole >/dev/null 2>&1 || ip link add ag-blackhole type dummy
ip link set ag-blackhole up
ip route replace default dev ag-blackhole
ip -6 route replace default dev ag-blackhole 2>/dev/null || true
# No resolver either: a lookup would be the first sign of a leak.
if [ -L /etc/resolv.conf ] || [ -f /etc/resolv.conf ]; then
  rm -f /etc/resolv.conf
  printf '# ag air gap: no upstream resolver\nnameserver 127.0.0.1\n' > /etc/resolv.conf
fi

# Prove it: nothing outside the lab answers.
if curl -sS --max-time 5 -o /dev/null https://dl.k8s.io 2>/dev/null; then
  echo "air gap provisioning failed: $(hostname) still reaches the internet" >&2
  exit 1
fi
echo "$(hostname): air-gapped (default route -> ag-blackhole)"
