// Part of `npm run build`: prepares the migrated PGlite cluster that new embedded stores copy.
import { buildTemplate } from '../dist/src/store/pglite-template.js';

const started = Date.now();
if (await buildTemplate()) console.log(`built the embedded-store template in ${Date.now() - started} ms`);
