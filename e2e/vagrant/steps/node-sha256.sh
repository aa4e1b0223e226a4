#!/bin/sh
# The sha256 that nodejs.org's SHASUMS256.txt gives one release file, for
# `ag-fetch plan --file URL#sha256=HEX`. Fails when the file is not listed.
#
#   node-sha256.sh SHASUMS256.txt node-v20.20.0-linux-x64.tar.xz
set -eu
awk -v name="$2" '$2 == name && length($1) == 64 && $1 ~ /^[0-9a-f]+$/ { print $1; found = 1 } END { exit !found }' "$1"
