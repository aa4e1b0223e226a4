/** Sizes are read alike by every tool (`--split 4G`, `ag-registry status --min-free 2G`): core's parser. */
export { parseSize } from '@ag/core';
