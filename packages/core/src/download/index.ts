export * from './retry.js';
export * from './dispatcher.js';
export * from './redirect.js';
export * from './limit.js';
export * from './http.js';
export * from './download.js';
export * from './progress.js';
export * from './room.js';
