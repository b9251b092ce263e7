// Handing an end-to-end encrypted app's environment keys to a member or service account that did not
// receive them when the app was created (docs/client-protocol.md "E2EE apps"). The server cannot open
// those keys, so the REST API's access endpoints refuse E2EE apps (as Phase's do): a client that holds
// an environment unwraps its seed and salt and wraps them to the recipient's key-exchange key, and the
// server stores the grant after the same checks an access change makes, plus one of its own: the
// caller passes on only environments it holds itself (a global-access role that never received an
// E2EE environment's keys has nothing to wrap).
import { randomUUID } from 'node:crypto';
import type { Tx } from '../../store/database.js';
import { asUuid } from '../../store/directory.js';
import { lockAppsForNewRows, lockEnvironmentsForNewRows, lockMemberIdentity, lockServiceAccountIdentity, type IdentityRow } from '../../store/apps.js';
import { listEnvironmentIdentities } from '../../store/client-protocol.js';
import { insertEnvironmentKeys } from '../../store/environment-keys.js';
import { addAppMemberships, listAppsOfAccountMembership, listGrantRows, type AccountRef } from '../../store/individual-access.js';
import { findMember } from '../../store/members.js';
import { findServiceAccount } from '../../store/service-accounts.js';
import { allowsOrg, hasEnvironmentAccess } from '../access.js';
import type { BodyReader, Call } from '../context.js';
import type { DomainDeps } from '../deps.js';
import { forbidden, invalid, notFound } from '../errors.js';
import { MEMBER_NOT_FOUND } from '../members.js';
import { SERVICE_ACCOUNT_NOT_FOUND } from '../service-accounts.js';
import { inTransaction } from '../transactions.js';
import { INVALID_CIPHERTEXT, isCiphertext } from './validate.js';

/** What a grant changed: environments given now, and those the recipient already held (left as they were). */
export interface E2eeGrantResult {
  recipient: AccountRef;
  appId: string;
  environmentsGranted: string[];
  environmentsAlreadyHeld: string[];
}

interface WrappedKeys {
  wrappedSeed: string;
  wrappedSalt: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Who may hand keys to this kind of recipient: whoever may change its access through the REST API. */
export function mayChangeAccessOf(call: Call, kind: 'member' | 'service_account'): boolean {
  return kind === 'member' ? allowsOrg(call.access, 'Members', 'update') : allowsOrg(call.access, 'ServiceAccounts', 'update');
}

export class E2eeGrants {
  constructor(private readonly deps: DomainDeps) {}

  /** POST /coffer/v1/apps/{app_id}/grants/ */
  async grant(call: Call, readBody: BodyReader): Promise<E2eeGrantResult> {
    const appRef = call.target.app!;
    const org = call.principal.organisationId;
    const body = readBody();
    const recipient = this.#recipientOf(body);
    const kind = 'memberId' in recipient ? 'member' : 'service_account';
    if (!mayChangeAccessOf(call, kind)) {
      throw forbidden(kind === 'member' ? "You don't have permission to update members." : "You don't have permission to update service accounts.");
    }
    const identity = await this.#findRecipient(org, recipient);
    if (appRef.sse_enabled) {
      throw invalid(`App '${appRef.name}' uses server-side encryption: give access to it with PUT /v1/${kind === 'member' ? 'members' : 'service-accounts'}/{id}/access/.`);
    }
    const environments = await listEnvironmentIdentities(this.deps.db, org, appRef.id);
    const given = this.#wrappedKeys(body.environments, environments);
    const notHeld = environments.filter((env) => given.has(env.id) && !hasEnvironmentAccess(call.access, env.id));
    if (notHeld.length > 0) {
      throw forbidden(`You can only pass on the keys of environments you hold yourself; you do not hold: ${notHeld.map((env) => env.name).join(', ')}.`);
    }

    const result = await inTransaction(this.deps.db, async ({ trx }) => {
      // Lock order as access changes take it (account, apps, environments; src/store/apps.ts
      // "Grantee reads"): a removal of the recipient, or a delete of the app or an environment,
      // either waits for these grants and takes them along, or came first and is answered here.
      const locked = await this.#lockRecipient(trx, org, recipient);
      if (!locked) throw notFound(kind === 'member' ? MEMBER_NOT_FOUND : SERVICE_ACCOUNT_NOT_FOUND);
      if ((await lockAppsForNewRows(trx, org, [appRef.id])).length === 0) throw notFound(`App with ID ${appRef.id} not found`);
      const live = new Set(await lockEnvironmentsForNewRows(trx, org, [...given.keys()]));
      const gone = environments.filter((env) => given.has(env.id) && !live.has(env.id));
      if (gone.length > 0) throw notFound(`Environment(s) not found in app '${appRef.name}': ${gone.map((env) => env.name).join(', ')}`);

      const held = new Set((await listGrantRows(trx, org, recipient)).map((row) => row.environment_id));
      const wasMember = (await listAppsOfAccountMembership(trx, org, recipient)).some((app) => app.id === appRef.id);
      const at = new Date();
      const granted = environments.filter((env) => given.has(env.id) && !held.has(env.id));
      await addAppMemberships(trx, org, recipient, [appRef.id], at);
      await insertEnvironmentKeys(
        trx,
        granted.map((env) => ({
          id: randomUUID(),
          organisation_id: org,
          environment_id: env.id,
          member_id: 'memberId' in recipient ? recipient.memberId : null,
          service_account_id: 'serviceAccountId' in recipient ? recipient.serviceAccountId : null,
          identity_key: env.identity_key,
          wrapped_seed: given.get(env.id)!.wrappedSeed,
          wrapped_salt: given.get(env.id)!.wrappedSalt,
          created_at: at,
          updated_at: at,
        })),
      );
      const change = {
        appsAdded: wasMember ? [] : [appRef.id],
        appsRemoved: [],
        environmentsGranted: granted.map((env) => env.id),
        environmentsRevoked: [],
      };
      // One event, as an access change through the REST API writes (member.access, service_account.access).
      if (change.appsAdded.length > 0 || change.environmentsGranted.length > 0) {
        await this.deps.audit.append(trx, [
          { organisationId: org, actor: call, event: { kind: 'audit', action: `${kind}.access`, appId: appRef.id, resourceId: identity.id, snapshot: { ...change } } },
        ]);
      }
      return {
        recipient,
        appId: appRef.id,
        environmentsGranted: change.environmentsGranted,
        environmentsAlreadyHeld: environments.filter((env) => given.has(env.id) && held.has(env.id)).map((env) => env.id),
      };
    });
    this.deps.invalidateDirectory();
    return result;
  }

  #recipientOf(body: Record<string, unknown>): AccountRef {
    const hasMember = body.memberId !== undefined;
    const hasAccount = body.serviceAccountId !== undefined;
    if (hasMember === hasAccount) throw invalid("Name exactly one recipient: 'memberId' or 'serviceAccountId'.");
    const raw = hasMember ? body.memberId : body.serviceAccountId;
    const id = typeof raw === 'string' ? asUuid(raw) : undefined;
    if (!id) throw invalid(`'${hasMember ? 'memberId' : 'serviceAccountId'}' must be a UUID.`);
    return hasMember ? { memberId: id } : { serviceAccountId: id };
  }

  async #findRecipient(org: string, recipient: AccountRef): Promise<{ id: string }> {
    if ('memberId' in recipient) {
      const member = await findMember(this.deps.db, org, recipient.memberId);
      if (!member) throw notFound(MEMBER_NOT_FOUND);
      return member;
    }
    const account = await findServiceAccount(this.deps.db, org, recipient.serviceAccountId);
    if (!account) throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
    return account;
  }

  #lockRecipient(trx: Tx, org: string, recipient: AccountRef): Promise<IdentityRow | undefined> {
    return 'memberId' in recipient ? lockMemberIdentity(trx, org, recipient.memberId) : lockServiceAccountIdentity(trx, org, recipient.serviceAccountId);
  }

  /** `environments: [{id, wrappedSeed, wrappedSalt}]`: environments of this app, each once, well-formed ciphertexts. */
  #wrappedKeys(value: unknown, environments: ReadonlyArray<{ id: string }>): Map<string, WrappedKeys> {
    if (!Array.isArray(value) || value.length === 0) throw invalid("'environments' must be a non-empty list of {id, wrappedSeed, wrappedSalt}.");
    const ofApp = new Set(environments.map((env) => env.id));
    const given = new Map<string, WrappedKeys>();
    for (const entry of value) {
      if (!isObject(entry) || typeof entry.id !== 'string') throw invalid("Each entry in 'environments' must be an object with an 'id'.");
      const id = asUuid(entry.id);
      if (!id || !ofApp.has(id)) throw invalid(`Environment ${entry.id} is not an environment of this app.`);
      if (given.has(id)) throw invalid(`Environment ${entry.id} is listed twice.`);
      if (!isCiphertext(entry.wrappedSeed) || !isCiphertext(entry.wrappedSalt)) throw invalid(INVALID_CIPHERTEXT);
      given.set(id, { wrappedSeed: entry.wrappedSeed, wrappedSalt: entry.wrappedSalt });
    }
    return given;
  }
}
