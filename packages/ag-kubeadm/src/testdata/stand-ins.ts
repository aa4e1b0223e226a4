/**
 * The programs around kubeadm that ag-kubeadm's tests run as recording
 * stand-ins (@ag/fixtures createStandIns: each call is logged): ctr answers
 * from $STANDIN_DIR/ctr-images.txt, systemctl only records. kubeadm is the
 * kit's kubeadm double and kubectl the kit's stand-in that answers from the
 * double's cluster; the tests pass their bodies in (test support may not
 * import the kit).
 */
export const CTR = `cat "$STANDIN_DIR/ctr-images.txt" 2>/dev/null || { echo "ctr: containerd is not running" >&2; exit 1; }`;

export const SYSTEMCTL = `case "$1" in daemon-reload|restart|is-active) exit 0 ;; *) echo "stand-in systemctl: unexpected $*" >&2; exit 64 ;; esac`;

/** Before running the double, keep a copy of a JoinConfiguration and its mode: ag-kubeadm removes the file after kubeadm join. */
export const KEEP_JOIN_CONFIG = `if [ "$1" = join ] && [ "$2" = --config ]; then cp "$3" "$STANDIN_DIR/join-config.yaml"; stat -c %a "$3" > "$STANDIN_DIR/join-config.mode"; fi`;

/** The part of @ag/fixtures' StandIns used here. */
interface Addable {
  add(name: string, body: string): Promise<void>;
}

/** Adds kubeadm (the double's shell body), kubectl (the kit's body), ctr and systemctl to a fresh set. */
export async function addNodeStandIns<T extends Addable>(standIns: T, bodies: { kubeadm: string; kubectl: string }): Promise<T> {
  await standIns.add('kubeadm', `${KEEP_JOIN_CONFIG}\n${bodies.kubeadm}`);
  await standIns.add('kubectl', bodies.kubectl);
  await standIns.add('ctr', CTR);
  await standIns.add('systemctl', SYSTEMCTL);
  return standIns;
}
