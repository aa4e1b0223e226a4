export { renderFlannel, type RenderOptions, type RenderResult } from './render.js';
export { applyFlannel, type ApplyOptions, type ApplyResult } from './apply.js';
export { CRASH_LOOP_RESTARTS, flannelByNode, type NodeFlannel } from './node-pods.js';
export { renderNetConf } from './net-conf.js';
export { pinnedReference, pinDigest } from './pin-images.js';
export { main } from './cli.js';
