export * from './mode.js';
export * from './summary.js';
export * from './emit.js';
