// Verifying the hash-chained audit trail (`coffer admin verify-audit`): every event's MAC must match
// its content and its predecessor's MAC, sequence numbers must run 1, 2, 3, ... without gaps, and the
// chain must end where the organisation's head says it ends.
import { auditMac, type MasterKeyring } from '../crypto/index.js';
import type { Executor } from '../store/database.js';
import type { EventRow } from '../store/events.table.js';
import { auditKeyContext, GENESIS_MAC, macMessage } from './audit.js';

export type ChainProblem =
  | { kind: 'altered'; organisationId: string; seq: number; eventId: string }
  | { kind: 'inserted'; organisationId: string; seq: number; eventId: string }
  | { kind: 'deleted'; organisationId: string; seq: number; afterSeq: number }
  | { kind: 'truncated'; organisationId: string; seq: number; headSeq: number }
  /** An organisation (or events of one) with no chain head: the head was removed, so its chain cannot be checked. */
  | { kind: 'headless'; organisationId: string };

export interface ChainReport {
  organisations: number;
  events: number;
  problem: ChainProblem | undefined;
}

const PAGE = 5_000;

function macOf(key: Uint8Array, row: EventRow): string {
  return auditMac(key, macMessage(row, row.snapshot ?? null));
}

/** `verify-audit --org` named an organisation the store has no trace of. */
export class UnknownOrganisationError extends Error {
  constructor(readonly organisationId: string) {
    super(`there is no organisation ${organisationId} in this store`);
    this.name = 'UnknownOrganisationError';
  }
}

/**
 * Organisations, and organisations that events name, without a chain head. Every organisation gets
 * its head when it is created; one without is a head removed, which would otherwise leave its
 * chain unchecked (and free to alter) while the trail was reported intact.
 */
async function headlessOrganisations(db: Executor, organisationId?: string): Promise<string[]> {
  const named = db
    .selectFrom('organisations')
    .select('id as organisation_id')
    .union(db.selectFrom('events').select('organisation_id').distinct());
  let query = db
    .selectFrom(named.as('named'))
    .select('named.organisation_id')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('audit_heads as h').select('h.organisation_id').whereRef('h.organisation_id', '=', 'named.organisation_id'))))
    .orderBy('named.organisation_id');
  if (organisationId) query = query.where('named.organisation_id', '=', organisationId);
  return (await query.execute()).map((row) => row.organisation_id);
}

/** Checks every organisation's chain (or one) and reports the first problem found. */
export async function verifyAuditTrail(db: Executor, keyring: MasterKeyring, organisationId?: string): Promise<ChainReport> {
  let heads = db.selectFrom('audit_heads').selectAll().orderBy('organisation_id');
  if (organisationId) heads = heads.where('organisation_id', '=', organisationId);
  let total = 0;
  const rows = await heads.execute();
  const headless = await headlessOrganisations(db, organisationId);
  if (headless.length > 0) return { organisations: rows.length + headless.length, events: 0, problem: { kind: 'headless', organisationId: headless[0]! } };
  if (organisationId && rows.length === 0) throw new UnknownOrganisationError(organisationId);
  for (const head of rows) {
    const key = await keyring.open(head.wrapped_key, 'audit-key', auditKeyContext(head.organisation_id));
    let expectedSeq = 1;
    let prevMac = GENESIS_MAC;
    let afterSeq = 0;
    for (;;) {
      const page = await db
        .selectFrom('events')
        .selectAll()
        .where('organisation_id', '=', head.organisation_id)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(PAGE)
        .execute();
      for (const event of page) {
        total++;
        const macMatches = macOf(key, event) === event.mac;
        if (event.seq !== expectedSeq) {
          // A gap means events were removed; a repeat or a jump backwards means one was added.
          if (event.seq > expectedSeq && macMatches) return { organisations: rows.length, events: total, problem: { kind: 'deleted', organisationId: head.organisation_id, seq: expectedSeq, afterSeq: expectedSeq - 1 } };
          return { organisations: rows.length, events: total, problem: { kind: 'inserted', organisationId: head.organisation_id, seq: event.seq, eventId: event.id } };
        }
        if (!macMatches) {
          return { organisations: rows.length, events: total, problem: { kind: 'altered', organisationId: head.organisation_id, seq: event.seq, eventId: event.id } };
        }
        if (event.prev_mac !== prevMac) {
          // The event is internally consistent but chained onto something else: its predecessor was replaced or removed.
          return { organisations: rows.length, events: total, problem: { kind: 'inserted', organisationId: head.organisation_id, seq: event.seq, eventId: event.id } };
        }
        prevMac = event.mac;
        expectedSeq++;
        afterSeq = event.seq;
      }
      if (page.length < PAGE) break;
    }
    if (expectedSeq - 1 !== head.seq || prevMac !== head.mac) {
      return { organisations: rows.length, events: total, problem: { kind: 'truncated', organisationId: head.organisation_id, seq: expectedSeq - 1, headSeq: head.seq } };
    }
  }
  return { organisations: rows.length, events: total, problem: undefined };
}
