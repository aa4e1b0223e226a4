#!/usr/bin/env bash
# Installs the real parts ag's tests run against, the packages listed in
# debian-packages.txt next to this script, when any is missing. Idempotent;
# needs root and Debian's archive. `npm run demo` and `npm test` run it
# (tools/setup/src/ensure.mjs) when they find a package missing.
set -euo pipefail
list="$(dirname "$0")/debian-packages.txt"

mapfile -t packages < <(awk '{ sub(/#.*/, ""); for (i = 1; i <= NF; i++) print $i }' "$list")

# One dpkg-query for all of them; a package dpkg has never heard of prints
# nothing on stdout (only a complaint on stderr), so it counts as missing.
mapfile -t installed < <(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${packages[@]}" 2>/dev/null |
  awk '$1 == "installed" { print $2 }')
missing=()
for p in "${packages[@]}"; do
  [[ " ${installed[*]} " == *" $p "* ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "debian packages ready: ${packages[*]}" >&2
