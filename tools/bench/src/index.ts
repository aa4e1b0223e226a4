export { measureStartup, formatStartup, TARGET_MS, type StartupRow } from './startup.js';
export { builtTools, REPO_ROOT, type BuiltTool } from './workspace.js';
