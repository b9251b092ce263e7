// Creating a PostgreSQL cluster inside PGlite (initdb in WASM) takes several seconds. The build
// makes one migrated cluster once and saves it as a tarball; a new embedded store starts from a
// copy of it (about a second), and then runs any migrations that are newer than the template.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import { migrateToLatest, migrations } from './migrator.js';

const TEMPLATE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../pglite-template');
const TEMPLATE_FILE = path.join(TEMPLATE_DIR, 'cluster.tar.gz');
const META_FILE = path.join(TEMPLATE_DIR, 'cluster.json');

interface TemplateMeta {
  pgliteVersion: string;
  migrations: string[];
}

function pgliteVersion(): string {
  // The package does not export its package.json; find it above its entry point.
  let dir = path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (pkg.name === '@electric-sql/pglite') return pkg.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

function currentMeta(): TemplateMeta {
  return { pgliteVersion: pgliteVersion(), migrations: Object.keys(migrations).sort() };
}

function readMeta(): TemplateMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(META_FILE, 'utf8')) as TemplateMeta;
  } catch {
    return undefined;
  }
}

/** The template tarball, if one was built for this PGlite version. */
export function loadTemplate(): Blob | undefined {
  const meta = readMeta();
  if (!meta || meta.pgliteVersion !== pgliteVersion()) return undefined;
  try {
    return new Blob([fs.readFileSync(TEMPLATE_FILE)]);
  } catch {
    return undefined;
  }
}

/** Builds the template unless an up-to-date one exists. Returns true when it wrote one. */
export async function buildTemplate(): Promise<boolean> {
  const wanted = currentMeta();
  const existing = readMeta();
  if (existing && JSON.stringify(existing) === JSON.stringify(wanted) && fs.existsSync(TEMPLATE_FILE)) return false;
  const pglite = new PGlite();
  const db = new Kysely<unknown>({ dialect: new PGliteDialect({ pglite }) });
  try {
    await migrateToLatest(db);
    const dump = await pglite.dumpDataDir('gzip');
    fs.mkdirSync(TEMPLATE_DIR, { recursive: true });
    fs.writeFileSync(TEMPLATE_FILE, Buffer.from(await dump.arrayBuffer()));
    fs.writeFileSync(META_FILE, JSON.stringify(wanted));
    return true;
  } finally {
    await db.destroy();
  }
}
