/**
 * The defaults the command line shows in --help, in a module of their own:
 * cli.ts imports them at every start, and up.ts or container-runtime.ts
 * (loaded only by the commands that run them) would bring their imports
 * along (tools/build/bundle-bins.mjs splits the bundle at each import()).
 */

/** Where `ag-registry up` listens. */
export const DEFAULT_LISTEN = '0.0.0.0:5000';
/** containerd's socket, for the containerd mode. */
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';
/** The containerd namespace the registry's image and container live in. */
export const DEFAULT_NAMESPACE = 'ag';
