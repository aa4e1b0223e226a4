/**
 * OCI images on disk: media types, descriptors, manifests and indexes,
 * platform matching, and the image layout store (verified atomic writes,
 * streaming verified reads, index.json naming, walk, gc, verify).
 */
export * from './media-types.js';
export * from './descriptor.js';
export * from './manifest.js';
export * from './platform.js';
export * from './blob-writer.js';
export * from './verifying-reader.js';
export * from './layout.js';
export * from './walk.js';
export * from './referrers.js';
export * from './gc.js';
export * from './verify.js';
export * from './process-alive.js';
