export * from './io.js';
export * from './process.js';
