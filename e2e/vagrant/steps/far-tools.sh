#!/bin/sh
# Puts the ag tools of the unpacked bundle on the far side's PATH: one small
# script per tool in BIN-DIR that runs the bundle's single executable as that
# tool (the far side has no Node.js; the executable has it built in).
#
#   far-tools.sh EXECUTABLE BIN-DIR
set -eu
exe=$1 bin=$2
case "$exe" in /*) ;; *) exe=$(pwd)/$exe ;; esac
test -x "$exe" || { echo "far-tools: $exe is not an executable: unpack the bundle first (ag-bundle unpack)" >&2; exit 2; }
mkdir -p "$bin"
for tool in ag-bundle ag-fetch ag-images ag-nodeprep ag-registry ag-kubeadm ag-flannel; do
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$exe" "$tool" > "$bin/$tool.tmp"
  chmod 0755 "$bin/$tool.tmp"
  mv "$bin/$tool.tmp" "$bin/$tool"
done
