#!/usr/bin/env bash
# ag end to end across a real air gap, on Vagrant VMs: the trip of
# e2e/src/trip/steps.ts (the one the simulated-gap test runs), driven by
# e2e/src/vagrant/main.ts. See README.md beside this file.
#
#   ./run.sh                 # vagrant up, the whole trip, a summary
#   ./run.sh --dry-run       # every command per VM, in order; runs nothing
#   AG_PROVIDER=virtualbox AG_BOX=ubuntu AG_HA=1 AG_WORKERS=2 ./run.sh
set -euo pipefail
cd "$(dirname "$0")"
exec node --import tsx ../src/vagrant/main.ts "$@"
