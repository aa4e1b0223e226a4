/** ag-bundle's version: what --version prints and the SBOM names as its tool. */
export const VERSION = '0.1.0';
