// Master-key rotation: every value sealed under the master key is opened with whatever key sealed
// it and sealed again under the active key, in ONE transaction. Servers keep serving meanwhile
// (their unwrapped keys are cached; rows they read are either all old or all new).
// This file is the one list of where master-key envelopes live.
import { keyIdOf, type MasterKeyring } from '../crypto/index.js';
import type { Db, Tx } from '../store/database.js';
import { auditKeyContext } from './audit.js';
import { sealContext } from './environment-keys.js';
import { keyringContext } from './service-accounts.js';

export interface RewrapReport {
  /** Envelopes sealed again under the active key. */
  rewrapped: number;
  /** Envelopes that already were under the active key. */
  current: number;
  byKind: Record<string, number>;
}

type Counter = (kind: string, envelope: string) => boolean;

async function environmentKeys(trx: Tx, keyring: MasterKeyring, stale: Counter): Promise<void> {
  const rows = await trx.selectFrom('server_environment_keys').select(['environment_id', 'organisation_id', 'wrapped_seed', 'wrapped_salt']).forUpdate().execute();
  for (const row of rows) {
    const seedStale = stale('environment key', row.wrapped_seed);
    const saltStale = stale('environment key', row.wrapped_salt);
    if (!seedStale && !saltStale) continue;
    await trx
      .updateTable('server_environment_keys')
      .set({
        wrapped_seed: await keyring.rewrap(row.wrapped_seed, 'env-keys', sealContext(row.organisation_id, row.environment_id, 'seed')),
        wrapped_salt: await keyring.rewrap(row.wrapped_salt, 'env-keys', sealContext(row.organisation_id, row.environment_id, 'salt')),
        updated_at: new Date(),
      })
      .where('environment_id', '=', row.environment_id)
      .execute();
  }
}

async function serviceAccountKeyrings(trx: Tx, keyring: MasterKeyring, stale: Counter): Promise<void> {
  const rows = await trx.selectFrom('service_accounts').select(['id', 'organisation_id', 'server_wrapped_keyring']).forUpdate().execute();
  for (const row of rows) {
    if (!stale('service-account keyring', row.server_wrapped_keyring)) continue;
    await trx
      .updateTable('service_accounts')
      .set({ server_wrapped_keyring: await keyring.rewrap(row.server_wrapped_keyring, 'sa-keyring', keyringContext(row.organisation_id, row.id)) })
      .where('id', '=', row.id)
      .execute();
  }
}

async function auditKeys(trx: Tx, keyring: MasterKeyring, stale: Counter): Promise<void> {
  const rows = await trx.selectFrom('audit_heads').select(['organisation_id', 'wrapped_key']).forUpdate().execute();
  for (const row of rows) {
    if (!stale('audit key', row.wrapped_key)) continue;
    await trx
      .updateTable('audit_heads')
      .set({ wrapped_key: await keyring.rewrap(row.wrapped_key, 'audit-key', auditKeyContext(row.organisation_id)) })
      .where('organisation_id', '=', row.organisation_id)
      .execute();
  }
}

const SEALED = [environmentKeys, serviceAccountKeyrings, auditKeys];

/** Seals every envelope not under the active key again, all in one transaction. */
export async function rewrapAll(db: Db, keyring: MasterKeyring): Promise<RewrapReport> {
  const report: RewrapReport = { rewrapped: 0, current: 0, byKind: {} };
  const active = keyring.activeKeyId;
  const stale: Counter = (kind, envelope) => {
    if (keyIdOf(envelope) === active) {
      report.current++;
      return false;
    }
    report.rewrapped++;
    report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
    return true;
  };
  await db.transaction().execute(async (trx) => {
    for (const rewrap of SEALED) await rewrap(trx, keyring, stale);
  });
  return report;
}

/** How many envelopes each key id protects (after a rotation, only the active key should appear). */
export async function envelopeKeyIds(db: Db): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const count = (envelope: string) => {
    const id = keyIdOf(envelope);
    counts[id] = (counts[id] ?? 0) + 1;
  };
  for (const row of await db.selectFrom('server_environment_keys').select(['wrapped_seed', 'wrapped_salt']).execute()) {
    count(row.wrapped_seed);
    count(row.wrapped_salt);
  }
  for (const row of await db.selectFrom('service_accounts').select('server_wrapped_keyring').execute()) count(row.server_wrapped_keyring);
  for (const row of await db.selectFrom('audit_heads').select('wrapped_key').execute()) count(row.wrapped_key);
  return counts;
}
