import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

/** The server version reported by GET /health/. */
export const VERSION = `v${pkg.version}`;
