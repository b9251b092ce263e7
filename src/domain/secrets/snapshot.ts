// Decrypted environment snapshots (DESIGN §5.3): one per (environment, revision), loaded once in
// a consistent read and shared by every request until the revision changes.
import type { EnvironmentCipher } from '../../crypto/index.js';
import type { Db } from '../../store/database.js';
import type { Ciphertext, SecretType } from '../../store/secrets.table.js';
import { loadLiveSecrets, loadOverrides, type StoredSecret } from '../../store/secrets.js';
import { SingleFlight } from '../ttl-cache.js';
import type { RevisionSource } from './revisions.js';

export interface SecretEntry {
  readonly id: string;
  readonly environmentId: string;
  readonly folderId: string | null;
  readonly path: string;
  readonly keyDigest: string;
  readonly type: SecretType;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly tags: readonly string[];
  /** As stored (and as the client protocol returns them). */
  readonly ciphertext: { readonly key: Ciphertext; readonly value: Ciphertext; readonly comment: Ciphertext };
  /** Plaintext, present when the server holds the environment key (SSE) and the fields decrypt. */
  readonly key: string | undefined;
  readonly value: string | undefined;
  readonly comment: string | undefined;
}

/** A stored secret with its plaintext (undefined where the server cannot decrypt). */
export function secretEntryOf(row: StoredSecret, plaintext: Pick<SecretEntry, 'key' | 'value' | 'comment'>): SecretEntry {
  return {
    id: row.id,
    environmentId: row.environment_id,
    folderId: row.folder_id,
    path: row.path,
    keyDigest: row.key_digest,
    type: row.type,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    tags: row.tags,
    ciphertext: { key: row.key, value: row.value, comment: row.comment },
    key: plaintext.key,
    value: plaintext.value,
    comment: plaintext.comment,
  };
}

export interface OverrideEntry {
  readonly id: string;
  readonly secretId: string;
  readonly memberId: string;
  readonly isActive: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly valueCiphertext: Ciphertext;
  readonly value: string | undefined;
}

export class EnvironmentSnapshot {
  readonly #byLocation = new Map<string, SecretEntry[]>();
  readonly #overrides = new Map<string, Map<string, OverrideEntry>>();

  constructor(
    readonly environmentId: string,
    readonly revision: number,
    readonly secrets: readonly SecretEntry[],
    overrides: readonly OverrideEntry[],
    /** Whether key/value/comment are plaintext (SSE) or only ciphertext (E2EE). */
    readonly decrypted: boolean,
  ) {
    if (decrypted) {
      for (const secret of secrets) {
        if (secret.key === undefined || secret.value === undefined) continue;
        const location = `${secret.path}\u0000${secret.key}`;
        const list = this.#byLocation.get(location);
        if (list) list.push(secret);
        else this.#byLocation.set(location, [secret]);
      }
    }
    for (const override of overrides) {
      let own = this.#overrides.get(override.memberId);
      if (!own) this.#overrides.set(override.memberId, (own = new Map()));
      own.set(override.secretId, override);
    }
  }

  /** The secrets at `path` whose stored key is exactly `key` (reference lookup, §6.2). */
  at(path: string, key: string): readonly SecretEntry[] {
    return this.#byLocation.get(`${path}\u0000${key}`) ?? [];
  }

  /** A member's personal overrides in this environment, by secret id. */
  overridesOf(memberId: string): ReadonlyMap<string, OverrideEntry> | undefined {
    return this.#overrides.get(memberId);
  }
}

/**
 * Plaintext of a field, or undefined without the key or when it does not decrypt: a client of the
 * E2EE protocol can store a well-formed ciphertext the environment key does not open. Such a secret
 * is left out of plaintext responses (as the Go SDK skips it) instead of failing the whole read.
 */
function decryptOrUndefined(cipher: EnvironmentCipher | undefined, ciphertext: string, optional = false): string | undefined {
  if (!cipher) return undefined;
  try {
    return optional ? cipher.decryptOptionalField(ciphertext) : cipher.decryptField(ciphertext);
  } catch {
    return undefined;
  }
}

/**
 * The environment's snapshot at its current revision. Whether the server holds the environment's key
 * is read in the same view as the rows: a key looked up before them could predate an SSE enablement
 * that committed in between, and the snapshot would carry the new revision without plaintext, served
 * as an empty environment until the next write.
 */
export async function loadSnapshot(
  db: Db,
  environmentId: string,
  cipherOf: (environmentId: string) => Promise<EnvironmentCipher | undefined>,
): Promise<EnvironmentSnapshot | undefined> {
  // One consistent view: the revision label never claims more than the rows show.
  const loaded = await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const env = await trx
        .selectFrom('environments')
        .select((eb) => ['revision', eb.exists(eb.selectFrom('server_environment_keys').select('environment_id').where('environment_id', '=', environmentId)).as('server_has_key')])
        .where('id', '=', environmentId)
        .executeTakeFirst();
      if (!env) return undefined;
      const [rows, overrides] = [await loadLiveSecrets(trx, environmentId), await loadOverrides(trx, environmentId)];
      return { revision: env.revision, serverHasKey: Boolean(env.server_has_key), rows, overrides };
    });
  if (!loaded) return undefined;
  // A server key is never taken back while its environment lives, so the one found now is the one seen.
  const cipher = loaded.serverHasKey ? await cipherOf(environmentId) : undefined;
  const secrets = loaded.rows.map((row) =>
    secretEntryOf(row, {
      key: decryptOrUndefined(cipher, row.key),
      value: decryptOrUndefined(cipher, row.value),
      comment: decryptOrUndefined(cipher, row.comment, true),
    }),
  );
  const overrides: OverrideEntry[] = loaded.overrides.map((row) => ({
    id: row.id,
    secretId: row.secret_id,
    memberId: row.member_id,
    isActive: row.is_active,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    valueCiphertext: row.value,
    value: decryptOrUndefined(cipher, row.value),
  }));
  return new EnvironmentSnapshot(environmentId, loaded.revision, secrets, overrides, cipher !== undefined);
}

/** LRU of snapshots by environment; an entry is used only while its revision is current. */
export class SnapshotCache {
  readonly #snapshots = new Map<string, EnvironmentSnapshot>();
  readonly #loads = new SingleFlight<string, EnvironmentSnapshot | undefined>();

  constructor(
    private readonly db: Db,
    readonly revisions: RevisionSource,
    private readonly cipherOf: (environmentId: string) => Promise<EnvironmentCipher | undefined>,
    private readonly maxEntries = 2_000,
  ) {}

  /** The snapshot at `revision` (which the caller has just confirmed is current). */
  async get(environmentId: string, revision: number): Promise<EnvironmentSnapshot | undefined> {
    const cached = this.#snapshots.get(environmentId);
    if (cached && cached.revision === revision) return cached;
    const snapshot = await this.#loads.run(`${environmentId}@${revision}`, async () => {
      const loaded = await loadSnapshot(this.db, environmentId, this.cipherOf);
      if (loaded) this.#remember(loaded);
      return loaded;
    });
    return snapshot;
  }

  /** The newest snapshot held for an environment, whatever its revision. */
  peek(environmentId: string): EnvironmentSnapshot | undefined {
    return this.#snapshots.get(environmentId);
  }

  /** Drops an environment's snapshot (after a write or deletion). */
  forget(environmentId: string): void {
    this.#snapshots.delete(environmentId);
  }

  #remember(snapshot: EnvironmentSnapshot): void {
    const existing = this.#snapshots.get(snapshot.environmentId);
    if (existing && existing.revision > snapshot.revision) return;
    this.#snapshots.delete(snapshot.environmentId);
    if (this.#snapshots.size >= this.maxEntries) {
      const oldest = this.#snapshots.keys().next();
      if (!oldest.done) this.#snapshots.delete(oldest.value);
    }
    this.#snapshots.set(snapshot.environmentId, snapshot);
  }
}
