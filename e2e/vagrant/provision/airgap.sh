#!/usr/bin/env bash
# Cut an air-gapped VM off: the default route goes to a dummy interface, so
# every packet for the internet is dropped. What stays: the provider's
# management link (vagrant ssh) and the lab network. Runs at every boot
# (run: always) because routes do not persist.
#
# Before the cut, once: what the far side's bootstrap needs of the box (tar,
# xz, openssl: steps/far-bootstrap.sh names any that is missing), from the
# box's own package manager, as a site's base image would have them.
set -euo pipefail

missing=()
for program in tar xz openssl; do command -v "$program" >/dev/null || missing+=("$program"); done
if ((${#missing[@]} > 0)) && ! ip link show ag-blackhole >/dev/null 2>&1; then
  if command -v dnf >/dev/null; then
    dnf install -y -q tar xz openssl
  elif command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tar xz-utils openssl
  fi
fi

ip link show ag-blackhole >/dev/null 2>&1 || ip link add ag-blackhole type dummy
ip link set ag-blackhole up
ip route replace default dev ag-blackhole
ip -6 route replace default dev ag-blackhole 2>/dev/null || true

# DNS inside the site only. systemd-resolved (Fedora and Ubuntu run it) would
# keep forwarding to the resolvers the provider's DHCP handed out, through its
# stub at 127.0.0.53, and rewrite resolv.conf: stop and disable it, then name
# only the site's resolver (ag-nodeprep apply --resolved disable does the same
# and writes the kubelet's /etc/kubernetes/resolv.conf).
if systemctl is-enabled --quiet systemd-resolved 2>/dev/null || systemctl is-active --quiet systemd-resolved 2>/dev/null; then
  systemctl disable --now systemd-resolved
fi
rm -f /etc/resolv.conf
printf '# ag air gap: the site resolver only\nnameserver %s\n' "${AG_SITE_RESOLVER:?AG_SITE_RESOLVER names the site resolver}" > /etc/resolv.conf

# Log whatever takes the black hole, so a leak names its destination (journalctl -k | grep ag-leak).
if command -v nft >/dev/null && ! nft list table inet ag_leak >/dev/null 2>&1; then
  nft add table inet ag_leak
  nft 'add chain inet ag_leak out { type filter hook output priority 0; }'
  nft add rule inet ag_leak out oifname "ag-blackhole" counter log prefix '"ag-leak "'
fi

# Prove it: nothing outside the lab answers.
if curl -sS --max-time 5 -o /dev/null https://dl.k8s.io 2>/dev/null; then
  echo "air gap provisioning failed: $(hostname) still reaches the internet" >&2
  exit 1
fi
echo "$(hostname): air-gapped (default route -> ag-blackhole, resolver ${AG_SITE_RESOLVER})"
