export { renderFlannel, type RenderOptions, type RenderResult } from './render.js';
export { applyFlannel, nodeReadiness, type ApplyOptions, type ApplyResult } from './apply.js';
export { renderNetConf } from './net-conf.js';
export { pinnedReference, pinDigest } from './pin-images.js';
export { main } from './cli.js';
