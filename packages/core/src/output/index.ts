export * from './mode.js';
export * from './summary.js';
export * from './emit.js';
export * from './dry-run.js';
