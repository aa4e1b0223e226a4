/** ag-images as a library: the typed function behind each verb. */
export { pullImages, UPSTREAM_DIGEST_ANNOTATION, type PullOptions, type PullResult, type PullAction } from './pull.js';
export { pushImages, type PushOptions, type PushResult, type PushAction, type PushedImage } from './push.js';
export { listImages, type LayoutImage } from './list.js';
export { verifyImages, type VerifyImagesOptions, type VerifyImagesResult } from './verify.js';
export { importImages, DEFAULT_CONTAINERD_ADDRESS, type ImportOptions, type ImportResult } from './import.js';
export { Connections, type ConnectionOptions } from './connection.js';
export { parseMirror, sourceFor, type MirrorRule } from './sources.js';
export { layoutDirFor, platformsFor, withImages } from './document.js';
export { main, VERSION } from './cli.js';
