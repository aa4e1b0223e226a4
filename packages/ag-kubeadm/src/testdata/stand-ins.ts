/**
 * kubeadm, kubectl and ctr stand-ins that behave like the real ones as far
 * as ag-kubeadm can see: kubeadm init writes the files kubeadm writes under
 * $AG_TEST_ROOT, token create prints a token, and so on. Files in
 * $STANDIN_DIR steer them (ca.crt, images.txt, ctr-images.txt,
 * cluster-configuration.yaml, readyz-failures).
 */
export const KUBEADM = `
R="$AG_TEST_ROOT"
arg_after() { want="$1"; shift; while [ $# -gt 0 ]; do if [ "$1" = "$want" ]; then echo "$2"; return; fi; shift; done; }
case "$1 $2 $3" in
  "config images list") cat "$STANDIN_DIR/images.txt" ;;
  "init phase upload-certs")
    echo "[upload-certs] Storing the certificates in Secret \\"kubeadm-certs\\" in the \\"kube-system\\" Namespace" >&2
    echo "[upload-certs] Using certificate key:"
    echo "3c9b2d1f0e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c" ;;
  "token create --kubeconfig") echo "abcdef.0123456789abcdef" ;;
  *)
    case "$1" in
      init)
        cfg=$(arg_after --config "$@")
        cp "$cfg" "$STANDIN_DIR/init-config.yaml"
        mkdir -p "$R/etc/kubernetes/manifests" "$R/etc/kubernetes/pki"
        cp "$STANDIN_DIR/ca.crt" "$R/etc/kubernetes/pki/ca.crt"
        echo "apiVersion: v1" > "$R/etc/kubernetes/admin.conf"
        echo "kind: Pod" > "$R/etc/kubernetes/manifests/kube-apiserver.yaml"
        echo "[init] Using Kubernetes version"
        echo "Your Kubernetes control-plane has initialized successfully!" ;;
      join)
        cfg=$(arg_after --config "$@")
        cp "$cfg" "$STANDIN_DIR/join-config.yaml"
        stat -c %a "$cfg" > "$STANDIN_DIR/join-config.mode"
        mkdir -p "$R/etc/kubernetes"
        echo "apiVersion: v1" > "$R/etc/kubernetes/kubelet.conf"
        echo "This node has joined the cluster" ;;
      reset)
        rm -rf "$R/etc/kubernetes/manifests" "$R/etc/kubernetes/pki" "$R/etc/kubernetes/admin.conf" "$R/etc/kubernetes/kubelet.conf"
        echo "[reset] Deleted contents of the etcd data directory" ;;
      *) echo "stand-in kubeadm: unexpected $*" >&2; exit 64 ;;
    esac ;;
esac
`;

export const KUBECTL = `
case "$*" in
  *"get --raw /readyz"*)
    n=$(cat "$STANDIN_DIR/readyz-failures" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$STANDIN_DIR/readyz-failures"; echo "The connection to the server was refused" >&2; exit 1; fi
    echo ok ;;
  *"get node "*) echo "node/$5" ;;
  *"get configmap kubeadm-config"*) cat "$STANDIN_DIR/cluster-configuration.yaml" ;;
  *) echo "stand-in kubectl: unexpected $*" >&2; exit 64 ;;
esac
`;

export const CTR = `cat "$STANDIN_DIR/ctr-images.txt" 2>/dev/null || { echo "ctr: containerd is not running" >&2; exit 1; }`;

/** The part of @ag/fixtures' StandIns used here (test support may not import the kit; tests pass it in). */
interface Addable {
  add(name: string, body: string): Promise<void>;
}

/** Adds the kubeadm, kubectl and ctr stand-ins to a fresh set from @ag/fixtures' createStandIns. */
export async function addKubeadmStandIns<T extends Addable>(standIns: T): Promise<T> {
  await standIns.add('kubeadm', KUBEADM);
  await standIns.add('kubectl', KUBECTL);
  await standIns.add('ctr', CTR);
  return standIns;
}
