/**
 * ag-bundle as a library: the physical transfer across the gap. Each verb is
 * a typed function; cli.ts is the thin command line over them.
 */
export { packBundle, type PackOptions, type PackResult, type PackAction } from './pack.js';
export { verifyBundle, assertNoProblems, type VerifyOptions, type VerifyReport } from './verify.js';
export { unpackBundle, type UnpackOptions, type UnpackResult } from './unpack.js';
export { inspectBundle, renderInspectReport, type InspectReport, type InspectedImage, type InspectedBlob } from './inspect.js';
export { takeInventory, readInventory, Inventory, type InventoryOptions } from './inventory.js';
export { openBundleInput, type BundleInput } from './input.js';
export { scanBundle, type Problem, type ProblemKind, type ScanResult } from './scan.js';
export {
  generateKeyPair,
  loadPublicKey,
  loadSigningKey,
  keyFingerprint,
  opensslVerifyCommand,
  type SignatureAlgorithm,
  type KeygenOptions,
  type KeygenResult,
} from './signing.js';
export { PartsList, PARTS_SUFFIX, PARTS_SIGNATURE_SUFFIX } from './parts.js';
export { parseSize } from './size.js';
export { SUMS_FILE, SIGNATURE_FILE, DOCUMENT_FILE } from './sums.js';
export { main } from './cli.js';
