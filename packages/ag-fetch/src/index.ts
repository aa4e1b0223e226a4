export { planFetch, type PlanOptions } from './plan.js';
export { downloadFiles, plannedDownloads, type DownloadFilesOptions, type DownloadAction, type FileOutcome } from './download.js';
export { parseMirrors, mirrorUrl, type Mirrors } from './mirrors.js';
export { parseChecksumFile } from './plan/checksums.js';
export { DEFAULT_PLANNERS } from './plan/planners/index.js';
export type { Planner, PlanContext, PlanContribution } from './plan/context.js';
export type { PlanRequest, ChartRequest, FileRequest } from './plan/request.js';
export { main } from './cli.js';
export * from './os-packages/index.js';
