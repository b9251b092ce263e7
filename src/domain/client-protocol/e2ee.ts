// End-to-end encrypted apps (DESIGN §1 "E2EE", crypto spec §2.5–§2.6). The client generates every
// environment's seed and salt and wraps them for each principal that must hold them; the server
// stores those grants and nothing it could open (no server copy, sse_enabled = false). Enabling SSE
// later is one-way: the client wraps each seed and salt to the server's key-exchange key, the
// server checks that each seed yields its environment's identity key and seals its own copy.
import { randomUUID } from 'node:crypto';
import {
  decryptAsymmetric,
  ed25519PublicKeyToKx,
  isHex,
  isX25519PublicKey,
  publicKeyHexFromSeed,
  toHex,
  type MasterKeyring,
} from '../../crypto/index.js';
import type { App, Environment, EnvType } from '../../store/apps.table.js';
import { findApp } from '../../store/apps.js';
import type { Tx } from '../../store/database.js';
import { listRecipientCandidates, listEnvironmentIdentities, lockApp, lockLiveRecipients, type RecipientRow } from '../../store/client-protocol.js';
import { insertEnvironmentKeys, type EnvironmentKeyInsert } from '../../store/environment-keys.js';
import { bumpEnvironmentRevision } from '../../store/secrets.js';
import { allowsInApp, allowsOrg, hasEnvironmentAccess } from '../access.js';
import { ENVIRONMENTS_PER_NEW_APP_MAX } from '../apps.js';
import type { BodyReader, Call } from '../context.js';
import type { DomainDeps } from '../deps.js';
import type { EnvironmentSecrets } from '../environment-keys.js';
import { DEFAULT_ENVIRONMENTS, INVALID_ENVIRONMENT_NAME, isValidEnvironmentName } from '../environments.js';
import { conflict, DomainError, forbidden, invalid, notFound } from '../errors.js';
import type { ReadPath } from '../secrets/read-path.js';
import { applyTextRule } from '../text-rule.js';
import { inTransaction } from '../transactions.js';
import { mayChangeAccessOf } from './e2ee-grants.js';
import { INVALID_CIPHERTEXT, isCiphertext, parseWrappedEnvironmentKeys } from './validate.js';

export const SSE_ALREADY_ENABLED = 'SSE is already enabled for this App.';
const ENV_TYPES: readonly EnvType[] = ['dev', 'staging', 'prod', 'custom'];

/** A principal that can receive environment keys. */
export interface Recipient {
  type: 'member' | 'service_account';
  id: string;
  /** hex Ed25519 public key (as stored) */
  identityKey: string;
  /** hex X25519 key the seed and salt are wrapped to (crypto spec §1.8) */
  kxPublicKey: string;
  /** Must receive every environment of a new E2EE app: the caller and every global-access member. */
  required: boolean;
}

export interface CreatedE2eeApp {
  app: App;
  environments: Environment[];
}

/** The server's key-exchange public key for SSE enablement. */
export interface ServerKey {
  publicKey: string;
  /** Id of the master key it is derived from; it changes when the master key is rotated. */
  keyId: string;
}

interface GrantInput {
  recipient: RecipientRow;
  wrappedSeed: string;
  wrappedSalt: string;
}

interface EnvironmentInput {
  name: string;
  envType: EnvType;
  identityKey: string;
  grants: GrantInput[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class E2eeApps {
  constructor(private readonly deps: DomainDeps, private readonly readPath: ReadPath) {}

  serverKey(): ServerKey {
    const pair = this.deps.masterKeyring.kxKeyPair('sse-kx');
    const key = { publicKey: toHex(pair.publicKey), keyId: pair.keyId };
    wipe(pair.privateKey);
    return key;
  }

  /**
   * Who receives the keys of a new E2EE app created by the caller, or of an environment handed on
   * later (E2eeGrants): so also for whoever may change a member's or service account's access.
   */
  async recipients(call: Call): Promise<Recipient[]> {
    if (!allowsOrg(call.access, 'Apps', 'create') && !mayChangeAccessOf(call, 'member') && !mayChangeAccessOf(call, 'service_account')) {
      throw forbidden("You don't have permission to create apps or to change access.");
    }
    return (await listRecipientCandidates(this.deps.db, call.principal.organisationId)).map((row) => this.#recipient(call, row));
  }

  /** POST /coffer/v1/apps/ with `encryption: "e2ee"`. */
  async create(call: Call, readBody: BodyReader): Promise<CreatedE2eeApp> {
    if (!allowsOrg(call.access, 'Apps', 'create')) throw forbidden("You don't have permission to create apps.");
    const body = readBody();
    const name = applyTextRule(body.name, { field: 'name', max: 64, required: true })!;
    const description = applyTextRule(body.description, { field: 'description', max: 10000, required: false });
    if (body.encryption !== 'e2ee') throw invalid(`'encryption' must be "e2ee". SSE apps are created with POST /v1/apps/.`);
    const org = call.principal.organisationId;
    const candidates = await listRecipientCandidates(this.deps.db, org);
    const environments = this.#environments(body.environments, candidates);
    const required = candidates.filter((row) => this.#recipient(call, row).required);
    for (const env of environments) {
      const granted = new Set(env.grants.map((g) => `${g.recipient.kind}:${g.recipient.id}`));
      const missing = required.filter((row) => !granted.has(`${row.kind}:${row.id}`));
      if (missing.length > 0) {
        throw invalid(
          `Environment '${env.name}' has no grant for ${missing.map((row) => `${row.kind === 'member' ? 'member' : 'service account'} ${row.id}`).join(', ')}: ` +
            'the creator and every member with global access must receive every environment key (GET /coffer/v1/recipients/ lists them).',
        );
      }
    }

    const created = await inTransaction(this.deps.db, async ({ trx }) => {
      const now = new Date();
      // App members: whoever holds a key of it (the creator and global-access members among them).
      const members = new Map<string, { member_id: string | null; service_account_id: string | null }>();
      for (const env of environments) {
        for (const { recipient } of env.grants) {
          members.set(`${recipient.kind}:${recipient.id}`, recipient.kind === 'member' ? { member_id: recipient.id, service_account_id: null } : { member_id: null, service_account_id: recipient.id });
        }
      }
      await this.#lockRecipients(trx, org, members);
      const app: App = { id: randomUUID(), organisation_id: org, name, description: description ?? null, sse_enabled: false, created_at: now, updated_at: now };
      await trx.insertInto('apps').values(app).execute();
      await trx
        .insertInto('app_members')
        .values([...members.values()].map((m) => ({ app_id: app.id, organisation_id: org, ...m, created_at: now })))
        .execute();
      const rows: Environment[] = [];
      const grants: EnvironmentKeyInsert[] = [];
      for (const [index, env] of environments.entries()) {
        const row: Environment = {
          id: randomUUID(),
          organisation_id: org,
          app_id: app.id,
          name: env.name,
          env_type: env.envType,
          index,
          identity_key: env.identityKey,
          revision: 1,
          created_at: now,
          updated_at: now,
        };
        await trx.insertInto('environments').values(row).execute();
        rows.push(row);
        for (const grant of env.grants) {
          grants.push({
            id: randomUUID(),
            organisation_id: org,
            environment_id: row.id,
            member_id: grant.recipient.kind === 'member' ? grant.recipient.id : null,
            service_account_id: grant.recipient.kind === 'service_account' ? grant.recipient.id : null,
            identity_key: env.identityKey,
            wrapped_seed: grant.wrappedSeed,
            wrapped_salt: grant.wrappedSalt,
            created_at: now,
            updated_at: now,
          });
        }
      }
      await insertEnvironmentKeys(trx, grants);
      await this.deps.audit.append(trx, [
        {
          organisationId: org,
          actor: call,
          event: {
            kind: 'audit',
            action: 'app.create',
            appId: app.id,
            resourceId: app.id,
            snapshot: { name, encryption: 'e2ee', environments: rows.map((e) => e.id), recipients: [...members.keys()] },
          },
        },
      ]);
      return { app, environments: rows };
    });
    this.deps.invalidateDirectory();
    return created;
  }

  /**
   * POST /coffer/v1/apps/{app_id}/enable-sse/ (crypto spec §2.6; Phase's initEnvSync). One-way. No
   * secret is re-encrypted; each environment's revision is bumped so that every node reloads its
   * snapshot with the key it can now open.
   */
  async enableSse(call: Call, readBody: BodyReader): Promise<App> {
    const appRef = call.target.app!;
    if (!allowsInApp(call.access, appRef.id, 'EncryptionMode', 'update')) {
      throw forbidden("You don't have permission to update the encryption mode of this app.");
    }
    if (appRef.sse_enabled) throw conflict(SSE_ALREADY_ENABLED);
    const org = call.principal.organisationId;
    const appGone = () => notFound(`App with ID ${appRef.id} not found`);
    const environments = await listEnvironmentIdentities(this.deps.db, org, appRef.id);
    // No environment listed may be an app deleted since the request's target was resolved.
    if (environments.length === 0 && !(await findApp(this.deps.db, org, appRef.id))) throw appGone();
    if (!environments.every((env) => hasEnvironmentAccess(call.access, env.id))) {
      throw forbidden('Enabling SSE needs access to every environment of the app.');
    }
    const body = readBody();
    if (!Array.isArray(body.environments)) throw invalid("'environments' must be a list of {id, wrappedSeed, wrappedSalt}.");
    const given = parseWrappedEnvironmentKeys(body.environments, new Set(environments.map((env) => env.id)));
    const missing = environments.filter((env) => !given.has(env.id));
    if (missing.length > 0) throw invalid(`Every environment of the app needs its keys; missing: ${missing.map((env) => env.name).join(', ')}.`);

    const opened = new Map<string, EnvironmentSecrets>();
    for (const env of environments) {
      const wrapped = given.get(env.id)!;
      const seedHex = this.#openFromClient(wrapped.wrappedSeed, env.name, 'seed');
      const saltHex = this.#openFromClient(wrapped.wrappedSalt, env.name, 'salt');
      const identityKey = publicKeyHexFromSeed(seedHex);
      if (identityKey !== env.identity_key.toLowerCase()) {
        throw invalid(`The seed given for environment '${env.name}' does not yield its identity key; it belongs to another environment.`);
      }
      opened.set(env.id, { seedHex, saltHex, identityKey });
    }

    const updated = await inTransaction(this.deps.db, async ({ trx, afterCommit }) => {
      const locked = await lockApp(trx, org, appRef.id);
      if (!locked) throw appGone();
      if (locked.sse_enabled) throw conflict(SSE_ALREADY_ENABLED);
      // The environment set may have changed since it was read: it must still be exactly the one checked.
      const now = (await listEnvironmentIdentities(trx, org, appRef.id)).map((env) => env.id).sort();
      if (now.join() !== [...opened.keys()].sort().join()) throw conflict('The environments of this app changed; fetch them again and retry.');
      const at = new Date();
      for (const [environmentId, secrets] of opened) {
        await trx
          .insertInto('server_environment_keys')
          .values({ environment_id: environmentId, organisation_id: org, ...this.deps.keys.serverCopy(org, environmentId, secrets), created_at: at, updated_at: at })
          .execute();
        const revision = await bumpEnvironmentRevision(trx, environmentId, at);
        afterCommit(() => {
          this.deps.keys.remember(environmentId, secrets);
          this.readPath.committed(environmentId, revision);
        });
      }
      const app = await trx.updateTable('apps').set({ sse_enabled: true, updated_at: at }).where('id', '=', appRef.id).where('organisation_id', '=', org).returningAll().executeTakeFirstOrThrow();
      await this.deps.audit.append(trx, [
        { organisationId: org, actor: call, event: { kind: 'audit', action: 'app.enable_sse', appId: app.id, resourceId: app.id, snapshot: { environments: [...opened.keys()] } } },
      ]);
      return app;
    });
    this.deps.invalidateDirectory();
    return updated;
  }

  /** Opens a seed or salt wrapped to the server's key (the active master key's, else an older one's). */
  #openFromClient(ciphertext: string, environmentName: string, part: 'seed' | 'salt'): string {
    const ring: MasterKeyring = this.deps.masterKeyring;
    for (const keyId of ring.keyIds) {
      const pair = ring.kxKeyPair('sse-kx', keyId);
      try {
        const text = decryptAsymmetric(ciphertext, pair);
        if (!isHex(text, 64)) throw invalid(`The ${part} of environment '${environmentName}' must be 64 hexadecimal characters once unwrapped.`);
        return text.toLowerCase();
      } catch (error) {
        if (error instanceof DomainError) throw error;
        // Any other failure: not wrapped to this key; try the next one.
      } finally {
        wipe(pair.privateKey);
      }
    }
    throw invalid(`The ${part} of environment '${environmentName}' is not wrapped to this server's key; fetch it from GET /coffer/v1/server-key/ and wrap again.`);
  }

  /**
   * The recipients were checked against the live accounts before the transaction: lock them until
   * commit, so a removal that comes later waits and takes the new grants along, and answer one removed
   * meanwhile as an unknown recipient, as if it had been gone before.
   */
  async #lockRecipients(trx: Tx, org: string, recipients: Map<string, { member_id: string | null; service_account_id: string | null }>): Promise<void> {
    const memberIds = [...recipients.values()].flatMap((r) => (r.member_id ? [r.member_id] : []));
    const serviceAccountIds = [...recipients.values()].flatMap((r) => (r.service_account_id ? [r.service_account_id] : []));
    const live = await lockLiveRecipients(trx, org, memberIds, serviceAccountIds);
    const goneMember = memberIds.find((id) => !live.has(`member:${id}`));
    if (goneMember) throw invalid(`Grant for an unknown member: ${goneMember}`);
    const goneAccount = serviceAccountIds.find((id) => !live.has(`service_account:${id}`));
    if (goneAccount) throw invalid(`Grant for an unknown service account: ${goneAccount}`);
  }

  #recipient(call: Call, row: RecipientRow): Recipient {
    const p = call.principal;
    const isCaller = row.kind === 'member' ? p.kind === 'member' && p.memberId === row.id : p.kind === 'service_account' && p.serviceAccountId === row.id;
    return {
      type: row.kind,
      id: row.id,
      identityKey: row.identity_key.toLowerCase(),
      kxPublicKey: toHex(ed25519PublicKeyToKx(row.identity_key)),
      required: isCaller || row.global_access,
    };
  }

  #environments(value: unknown, candidates: RecipientRow[]): EnvironmentInput[] {
    if (!Array.isArray(value) || value.length === 0) throw invalid("'environments' must be a non-empty list of {name, identityKey, grants}.");
    if (value.length > ENVIRONMENTS_PER_NEW_APP_MAX) {
      throw invalid(`At most ${ENVIRONMENTS_PER_NEW_APP_MAX} environments can be created with an app (got ${value.length}).`);
    }
    const byKey = new Map(candidates.map((row) => [`${row.kind}:${row.id}`, row]));
    const names = new Set<string>();
    const identityKeys = new Set<string>();
    return value.map((raw) => {
      if (!isObject(raw)) throw invalid("Each entry in 'environments' must be an object.");
      if (!isValidEnvironmentName(raw.name)) throw invalid(INVALID_ENVIRONMENT_NAME);
      const name = raw.name;
      if (names.has(name.toLowerCase())) throw invalid(`Duplicate environment name: '${name}'.`);
      names.add(name.toLowerCase());
      const envType = raw.envType ?? DEFAULT_ENVIRONMENTS.find((d) => d.name === name)?.envType ?? 'custom';
      if (!ENV_TYPES.includes(envType as EnvType)) throw invalid("'envType' must be one of dev, staging, prod, custom.");
      if (!isHex(raw.identityKey, 64)) throw invalid(`'identityKey' of environment '${name}' must be 64 hexadecimal characters.`);
      // Env_pk (crypto spec §2.5): every secret of the environment is encrypted to it, so a point the
      // key exchange refuses would make the environment unwritable.
      if (!isX25519PublicKey(raw.identityKey)) throw invalid(`'identityKey' of environment '${name}' must be an X25519 public key.`);
      const identityKey = raw.identityKey.toLowerCase();
      if (identityKeys.has(identityKey)) throw invalid('Each environment needs its own seed (two environments share an identityKey).');
      identityKeys.add(identityKey);
      if (!Array.isArray(raw.grants) || raw.grants.length === 0) throw invalid(`'grants' of environment '${name}' must be a non-empty list.`);
      const seen = new Set<string>();
      const grants = raw.grants.map((grant: unknown): GrantInput => {
        if (!isObject(grant)) throw invalid("Each grant must be an object with 'memberId' or 'serviceAccountId', 'wrappedSeed' and 'wrappedSalt'.");
        const hasMember = typeof grant.memberId === 'string';
        const hasAccount = typeof grant.serviceAccountId === 'string';
        if (hasMember === hasAccount) throw invalid("Each grant names exactly one of 'memberId' or 'serviceAccountId'.");
        const key = hasMember ? `member:${(grant.memberId as string).toLowerCase()}` : `service_account:${(grant.serviceAccountId as string).toLowerCase()}`;
        const recipient = byKey.get(key);
        if (!recipient) throw invalid(`Grant for an unknown ${hasMember ? 'member' : 'service account'}: ${String(hasMember ? grant.memberId : grant.serviceAccountId)}`);
        if (seen.has(key)) throw invalid(`Environment '${name}' has two grants for ${recipient.id}.`);
        seen.add(key);
        if (!isCiphertext(grant.wrappedSeed) || !isCiphertext(grant.wrappedSalt)) throw invalid(INVALID_CIPHERTEXT);
        return { recipient, wrappedSeed: grant.wrappedSeed, wrappedSalt: grant.wrappedSalt };
      });
      return { name, envType: envType as EnvType, identityKey, grants };
    });
  }
}

function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}
