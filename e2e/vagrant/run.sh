#!/usr/bin/env bash
# ag end to end across a real air gap, for real: Kubernetes v1.27.3, flannel
# v0.22.0 and podinfo 6.4.0 (Helm chart and image) from `ag-fetch plan` on the
# connected VM to `kubectl get nodes` Ready and podinfo Running on the
# air-gapped VM; then a worker VM joined from the init document; then a delta
# bundle for the next patch release carried and applied, to show that only
# the difference crosses. See README.md beside this file.
#
#   ./run.sh                       # vagrant up, the whole run, a summary
#   AG_PROVIDER=virtualbox ./run.sh
#   AG_BOX=ubuntu ./run.sh         # Ubuntu 22.04 instead of Fedora 37
#   AG_SKIP_UP=1 ./run.sh          # the VMs are up already
#
# The host plays the removable disk: files go connected VM -> host (.carry/)
# -> air-gapped VM over each VM's management link, the only link an
# air-gapped VM keeps besides the lab network. Commands run as root in the
# VMs through `vagrant ssh-config` and plain ssh/scp (`vagrant ssh -c` puts a
# terminal in between, which mangles binary copies). Everything the far side
# runs comes out of the bundle: the ag tools (one executable with Node.js
# built in: the air-gapped VMs have no Node.js), the binaries, the OS
# packages and the images.
set -euo pipefail
cd "$(dirname "$0")"

K8S_VERSION=${AG_KUBERNETES_VERSION:-v1.27.3}
NEXT_VERSION=${AG_NEXT_VERSION:-v1.27.4}
LAB_NET=${AG_LAB_NET:-192.168.56}
AIRGAP_IP=$LAB_NET.11
WORKER_IP=$LAB_NET.12
case "${AG_BOX:-fedora}" in
  fedora) OS=fedora-37 ;;
  ubuntu) OS=ubuntu-22.04 ;;
  *) echo "AG_BOX must be fedora or ubuntu" >&2; exit 2 ;;
esac
CARRY=.carry
SSH_CONFIG=$CARRY/ssh-config
mkdir -p "$CARRY"

# ---- helpers ---------------------------------------------------------------

STEPS=()
step_name=
step_started=0
# step TITLE: ends the step before (recording its time) and announces the next.
step() {
  step_done
  step_name=$1
  step_started=$SECONDS
  printf '\n==> %s\n' "$1" >&2
}
step_done() {
  [ -z "$step_name" ] || STEPS+=("$(printf '%-100s %5ds' "$step_name" $((SECONDS - step_started)))")
  step_name=
}

# on VM [NAME=VALUE…] < script: runs the script as root on VM with bash -euo pipefail, with those variables set.
on() {
  local vm=$1
  shift
  {
    printf 'set -euo pipefail\n'
    local kv
    for kv in "$@"; do printf 'export %q\n' "$kv"; done
    cat
  } | ssh -F "$SSH_CONFIG" "$vm" 'sudo bash -s'
}
# fetch_from VM REMOTE LOCAL / send_to VM LOCAL REMOTE: the carry, through the host.
fetch_from() { scp -F "$SSH_CONFIG" -q "$1:$2" "$3"; }
send_to() { scp -F "$SSH_CONFIG" -q "$2" "$1:$3"; }
size_of() { wc -c < "$1" | tr -d ' '; }

# The far side's tools: the unpacked bundle's single executable for this VM's architecture, told which tool to be.
FAR_TOOLS=$(
  cat <<'EOF'
case "$(uname -m)" in x86_64) AG_ARCH=amd64 ;; aarch64) AG_ARCH=arm64 ;; *) echo "no ag executable for $(uname -m)" >&2; exit 2 ;; esac
AG=/srv/ag/bundle/tools/$AG_ARCH/ag
for t in bundle fetch images nodeprep registry kubeadm flannel; do
  eval "ag-$t() { \"\$AG\" ag-$t \"\$@\"; }"
done
export KUBECONFIG=/etc/kubernetes/admin.conf
export PATH=/usr/local/bin:$PATH
# json FILE a.b.c: one value of a document (the far side has neither jq nor Node.js; the distributions' python3 is there).
json() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
if v is None:
    sys.exit(f"{sys.argv[1]} has no {sys.argv[2]}")
sys.stdout.write(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"; }
EOF
)

# ---- the VMs ---------------------------------------------------------------

if [ -z "${AG_SKIP_UP:-}" ]; then
  step "vagrant up (connected, airgap, worker)"
  vagrant up ${AG_PROVIDER:+--provider="$AG_PROVIDER"}
fi
vagrant ssh-config connected airgap worker > "$SSH_CONFIG"

step "air gap: the black-hole counters before the run"
for vm in airgap worker; do
  on "$vm" <<'EOF'
mkdir -p /srv/carry /etc/ag /var/lib/ag-e2e
chown vagrant /srv/carry
cat /sys/class/net/ag-blackhole/statistics/tx_packets > /var/lib/ag-e2e/tx-before
# Log whatever takes the black hole, so a leak names its destination (journalctl -k | grep ag-leak).
if command -v nft >/dev/null && ! nft list table inet ag_leak >/dev/null 2>&1; then
  nft add table inet ag_leak
  nft 'add chain inet ag_leak out { type filter hook output priority 0; }'
  nft add rule inet ag_leak out oifname "ag-blackhole" counter log prefix '"ag-leak "'
fi
echo "$(hostname): ag-blackhole TX $(cat /var/lib/ag-e2e/tx-before) packets so far"
EOF
done

# ---- connected side --------------------------------------------------------

CONNECTED_PRELUDE='cd /ag; export PATH=/ag/node_modules/.bin:/usr/local/bin:$PATH'

# pack_on_connected VERSION DIR OUT [--have FILE --inventory FILE]: the whole connected-side pipeline.
pack_on_connected() {
  on connected VERSION="$1" DIR="$2" OUT="$3" OS="$OS" \
    HAVE="${4:-}" OS_INVENTORY="${5:-}" PRELUDE="$CONNECTED_PRELUDE" <<'EOF'
eval "$PRELUDE"
mkdir -p /srv/ag/keys /srv/ag/out
[ -f /srv/ag/keys/ag-bundle.pem ] || ag-bundle keygen --out /srv/ag/keys/ag-bundle.pem > /dev/null
download_args=() pack_args=()
[ -z "$OS_INVENTORY" ] || download_args+=(--inventory "$OS_INVENTORY")
[ -z "$HAVE" ] || pack_args+=(--have "$HAVE")
time {
  ag-fetch plan --kubernetes-version "$VERSION" --arch amd64 --os "$OS" --cni flannel@v0.22.0 \
      --chart https://stefanprodan.github.io/podinfo/podinfo@6.4.0 --image ghcr.io/stefanprodan/podinfo:6.4.0 --dir "$DIR" \
    | ag-fetch download "${download_args[@]}" \
    | ag-images pull \
    | ag-bundle pack --out "$OUT" --sign-key /srv/ag/keys/ag-bundle.pem "${pack_args[@]}" > "$OUT.json"
}
ls -l "$OUT"
EOF
}

step "connected: ag-fetch plan | ag-fetch download | ag-images pull | ag-bundle pack ($K8S_VERSION)"
pack_on_connected "$K8S_VERSION" "/srv/ag/$K8S_VERSION" "/srv/ag/out/bundle-$K8S_VERSION.tar"

step "carry: bundle-$K8S_VERSION.tar to the air-gapped VMs (and the public key, once)"
fetch_from connected "/srv/ag/out/bundle-$K8S_VERSION.tar" "$CARRY/"
fetch_from connected /srv/ag/keys/ag-bundle.pub.pem "$CARRY/"
FULL_BYTES=$(size_of "$CARRY/bundle-$K8S_VERSION.tar")
for vm in airgap worker; do
  send_to "$vm" "$CARRY/bundle-$K8S_VERSION.tar" /srv/carry/
  # The trust anchor: carried once, before the first bundle; compare its fingerprint out of band.
  send_to "$vm" "$CARRY/ag-bundle.pub.pem" /srv/carry/
  on "$vm" <<'EOF'
install -m 0644 /srv/carry/ag-bundle.pub.pem /etc/ag/ag-bundle.pub.pem
openssl pkey -pubin -in /etc/ag/ag-bundle.pub.pem -outform DER | sha256sum
EOF
done

# far_unpack VM: bootstrap with tar, coreutils and openssl (steps/far-bootstrap.sh, sent as the commands
# to run, not as a file): it checks the executable and runs it as ag-bundle verify; then ag-bundle unpack.
far_unpack() {
  on "$1" BUNDLE="/srv/carry/bundle-$K8S_VERSION.tar" FAR_TOOLS="$FAR_TOOLS" \
    BOOTSTRAP="$(cat steps/far-bootstrap.sh)" <<'EOF'
eval "$FAR_TOOLS"
mkdir -p /srv/ag/doc
! command -v node
sh -c "$BOOTSTRAP" far-bootstrap.sh "$BUNDLE" /etc/ag/ag-bundle.pub.pem /opt/ag > /srv/ag/doc/verified.json
"/opt/ag/boot/tools/$AG_ARCH/ag-bundle" unpack "$BUNDLE" --dir /srv/ag/bundle --key /etc/ag/ag-bundle.pub.pem > /srv/ag/doc/unpacked.json
EOF
}

# ---- the air-gapped control plane -----------------------------------------

step "airgap: bootstrap, ag-bundle verify, ag-bundle unpack"
far_unpack airgap

step "airgap: ag-nodeprep apply | ag-registry up | ag-registry trust | ag-images push"
on airgap AIRGAP_IP="$AIRGAP_IP" FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
cd /srv/ag/doc
# The lab has no DNS server: the node's own lab address, where nothing answers, keeps every query on the
# node and CoreDNS's loop check content (127.0.0.1 would be a loop).
ag-nodeprep apply --nameserver "$AIRGAP_IP" < unpacked.json \
  | ag-registry up --state-dir /var/lib/ag-registry --host ag-airgap --ip "$AIRGAP_IP" --listen 0.0.0.0:5000 --endpoint "$AIRGAP_IP:5000" \
  | ag-registry trust \
  | ag-images push > pushed.json
EOF

step "airgap: ag-kubeadm init | ag-flannel render | ag-flannel apply"
on airgap AIRGAP_IP="$AIRGAP_IP" FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
cd /srv/ag/doc
ag-kubeadm init --single-node --advertise-address "$AIRGAP_IP" --node-name ag-airgap < pushed.json \
  | ag-flannel render --iface "$AIRGAP_IP" \
  | ag-flannel apply > cluster.json
kubectl get nodes -o wide
EOF

step "airgap: helm install podinfo (the chart from the bundle, the image through the mirror)"
on airgap FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
helm upgrade --install podinfo /srv/ag/bundle/files/charts/podinfo-6.4.0.tgz --wait --timeout 5m
kubectl rollout status deployment/podinfo --timeout=5m
phase=$(kubectl get pods -l app.kubernetes.io/name=podinfo -o jsonpath='{.items[0].status.phase}')
image=$(kubectl get pods -l app.kubernetes.io/name=podinfo -o jsonpath='{.items[0].status.containerStatuses[0].imageID}')
echo "podinfo: $phase ($image)"
[ "$phase" = Running ]
curl -fsS "http://$(kubectl get svc podinfo -o jsonpath='{.spec.clusterIP}'):9898/version"; echo
kubectl get nodes
[ "$(kubectl get node ag-airgap -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
EOF

# ---- the worker ------------------------------------------------------------

step "carry: the init document, the join token and the registry's CA and credentials to the worker"
# What a joining node needs of the control plane: the document (it names the files), the 0600 token
# file, the registry CA and credentials. Over the management links, like the bundle.
on airgap FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
mkdir -p /srv/carry/join
cp /srv/ag/doc/cluster.json /srv/carry/join/
cp "$(json /srv/ag/doc/cluster.json kubeadm.join.tokenFile)" /srv/carry/join/join-token
cp "$(json /srv/ag/doc/cluster.json registry.caFile)" /srv/carry/join/registry-ca.crt
cp "$(json /srv/ag/doc/cluster.json registry.credentialsFile)" /srv/carry/join/registry-credentials
chown -R vagrant /srv/carry/join
chmod 0600 /srv/carry/join/join-token /srv/carry/join/registry-credentials
EOF
rm -rf "$CARRY/join"
scp -F "$SSH_CONFIG" -q -r airgap:/srv/carry/join "$CARRY/"
on airgap <<<'rm -rf /srv/carry/join'
scp -F "$SSH_CONFIG" -q -r "$CARRY/join" worker:/srv/carry/

step "worker: bootstrap, verify, unpack; ag-nodeprep apply | ag-registry trust | ag-kubeadm join"
far_unpack worker
on worker WORKER_IP="$WORKER_IP" FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
cd /srv/ag/doc
# The same paths as on the control plane, so the init document names them right here too.
install -D -m 0644 /srv/carry/join/registry-ca.crt "$(json /srv/carry/join/cluster.json registry.caFile)"
install -D -m 0600 /srv/carry/join/registry-credentials "$(json /srv/carry/join/cluster.json registry.credentialsFile)"
install -D -m 0600 /srv/carry/join/join-token /etc/ag/join-token
ag-nodeprep apply --nameserver "$WORKER_IP" < /srv/carry/join/cluster.json \
  | ag-registry trust \
  | ag-kubeadm join --token-file /etc/ag/join-token --advertise-address "$WORKER_IP" --node-name ag-worker --kubelet-arg "node-ip=$WORKER_IP" > worker.json
rm -rf /srv/carry/join
EOF
on airgap FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
kubectl wait --for=condition=Ready node/ag-worker --timeout=5m
kubectl get nodes -o wide
EOF

# ---- the next trip: only the difference ------------------------------------

step "airgap: what the far side has (ag-bundle inventory, ag-nodeprep inventory), carried back"
on airgap FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
ag-bundle inventory --dir /srv/ag/bundle --out /srv/carry/inventory.json
ag-nodeprep inventory > /srv/carry/os-inventory.json
chown vagrant /srv/carry/inventory.json /srv/carry/os-inventory.json
EOF
fetch_from airgap /srv/carry/inventory.json "$CARRY/"
fetch_from airgap /srv/carry/os-inventory.json "$CARRY/"
on connected <<<'mkdir -p /srv/ag/in && chown vagrant /srv/ag/in'
send_to connected "$CARRY/inventory.json" /srv/ag/in/
send_to connected "$CARRY/os-inventory.json" /srv/ag/in/

step "connected: the $NEXT_VERSION pipeline, packed against the inventory (ag-bundle pack --have)"
pack_on_connected "$NEXT_VERSION" "/srv/ag/$NEXT_VERSION" "/srv/ag/out/delta-$NEXT_VERSION.tar" /srv/ag/in/inventory.json /srv/ag/in/os-inventory.json

step "carry: delta-$NEXT_VERSION.tar to the air-gapped control plane"
fetch_from connected "/srv/ag/out/delta-$NEXT_VERSION.tar" "$CARRY/"
DELTA_BYTES=$(size_of "$CARRY/delta-$NEXT_VERSION.tar")
send_to airgap "$CARRY/delta-$NEXT_VERSION.tar" /srv/carry/

step "airgap: unpack the delta onto the bundle, push, ag-nodeprep apply, kubeadm upgrade apply $NEXT_VERSION"
on airgap NEXT_VERSION="$NEXT_VERSION" AIRGAP_IP="$AIRGAP_IP" FAR_TOOLS="$FAR_TOOLS" <<'EOF'
eval "$FAR_TOOLS"
cd /srv/ag/doc
DELTA=/srv/carry/delta-$NEXT_VERSION.tar
# The ag-bundle of the bundle already here (verified on the first trip) checks and unpacks the next one.
ag-bundle verify "$DELTA" --key /etc/ag/ag-bundle.pub.pem > /dev/null
ag-bundle unpack "$DELTA" --dir /srv/ag/bundle --key /etc/ag/ag-bundle.pub.pem > next.json
ag-images push --registry "$AIRGAP_IP:5000" --ca-file "$(json pushed.json registry.caFile)" \
    --credentials-file "$(json pushed.json registry.credentialsFile)" < next.json > next-pushed.json
ag-nodeprep apply --nameserver "$AIRGAP_IP" < next-pushed.json > next-node.json
# kubeadm's own upgrade, with the new kubeadm from the bundle; its images come through the mirrors.
kubeadm upgrade apply "$NEXT_VERSION" --yes
systemctl daemon-reload
systemctl restart kubelet
for _ in $(seq 60); do
  [ "$(kubectl get node ag-airgap -o jsonpath='{.status.nodeInfo.kubeletVersion}' 2>/dev/null)" = "$NEXT_VERSION" ] && break
  sleep 5
done
kubectl get nodes -o wide
[ "$(kubectl get node ag-airgap -o jsonpath='{.status.nodeInfo.kubeletVersion}')" = "$NEXT_VERSION" ]
kubectl version -o json > version.json
echo "API server $(json version.json serverVersion.gitVersion)"
[ "$(json version.json serverVersion.gitVersion)" = "$NEXT_VERSION" ]
kubectl rollout status deployment/podinfo --timeout=5m
EOF

# ---- did anything leave the air gap? ---------------------------------------

step "air gap: the black-hole counters after the run"
LEAKS=0
for vm in airgap worker; do
  if ! on "$vm" <<'EOF'
before=$(cat /var/lib/ag-e2e/tx-before)
after=$(cat /sys/class/net/ag-blackhole/statistics/tx_packets)
echo "$(hostname): ag-blackhole TX $before -> $after packets"
if [ "$after" != "$before" ]; then
  journalctl -k --no-pager 2>/dev/null | grep 'ag-leak ' | tail -20 || true
  exit 1
fi
EOF
  then LEAKS=$((LEAKS + 1)); fi
done
step_done

# ---- summary ---------------------------------------------------------------

printf '\n== summary ==\n\n'
printf 'Kubernetes %s on %s (%s), flannel v0.22.0, podinfo 6.4.0; then %s\n' "$K8S_VERSION" "$OS" "${AG_PROVIDER:-default provider}" "$NEXT_VERSION"
printf 'full bundle  %12d bytes (bundle-%s.tar)\n' "$FULL_BYTES" "$K8S_VERSION"
printf 'delta bundle %12d bytes (delta-%s.tar): %d%% of the full one\n' "$DELTA_BYTES" "$NEXT_VERSION" $((DELTA_BYTES * 100 / FULL_BYTES))
printf '\n'
printf '%s\n' "${STEPS[@]}"
printf '%-100s %5ds\n' "total" "$SECONDS"
if ((LEAKS > 0)); then
  printf '\nLEAK: %d air-gapped VM(s) sent packets into the black hole (see above)\n' "$LEAKS"
  exit 3
fi
printf '\nno packet left the air-gapped VMs: ag-blackhole TX unchanged\n'
