#!/bin/sh
# Nothing left this air-gapped VM: the TX counter of ag-blackhole (its
# default route, provision/airgap.sh) is what it was when the VM was cut off.
# A packet that took it is logged by the nftables rule (journalctl -k).
#
#   check-blackhole.sh NAME
set -eu
before=$(cat /var/lib/ag-e2e/tx-before)
after=$(cat /sys/class/net/ag-blackhole/statistics/tx_packets)
echo "$1: ag-blackhole TX $before -> $after packets"
if [ "$after" != "$before" ]; then
  journalctl -k --no-pager 2>/dev/null | grep 'ag-leak ' | tail -20 >&2 || true
  exit 3
fi
