// Kept in step with package.json by test/version.test.ts; a constant rather than a package.json
// read so both the ESM and CommonJS builds (and bundlers) get it without file-system access.
export const LIBRARY_NAME = 'idstitch';
export const LIBRARY_VERSION = '0.1.0';
