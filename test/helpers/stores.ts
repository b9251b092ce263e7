// Every store test runs on PGlite, and on PostgreSQL too when TEST_DATABASE_URL is set.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store, type StoreKind } from '../../src/store/connect.js';

export interface StoreTarget {
  readonly kind: StoreKind;
  /** Opens a migrated store: a fresh in-memory PGlite, or the shared test PostgreSQL database. */
  open(): Promise<Store>;
  /** A database URL of its own (PostgreSQL), or undefined for PGlite. */
  databaseUrl?: string;
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

export const STORE_TARGETS: StoreTarget[] = [
  { kind: 'pglite', open: () => openStore({ memory: true }) },
  ...(TEST_DATABASE_URL
    ? [{ kind: 'postgres' as const, databaseUrl: TEST_DATABASE_URL, open: () => openStore({ databaseUrl: TEST_DATABASE_URL, poolSize: 10 }) }]
    : []),
];

/** Creates an empty PostgreSQL database next to TEST_DATABASE_URL; drop it with the returned function. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `coffer_tmp_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
