// Handing an end-to-end encrypted app's environment keys to a member or service account that did not
// receive them when the app was created (docs/client-protocol.md "E2EE apps"). The server cannot open
// those keys, so the REST API's access endpoints refuse E2EE apps (as Phase's do): a client that holds
// an environment unwraps its seed and salt and wraps them to the recipient's key-exchange key, and the
// server stores the grant after the same checks an access change makes, plus one of its own: the
// caller passes on only environments it holds itself (a global-access role that never received an
// E2EE environment's keys has nothing to wrap). The server cannot tell a good wrap from garbage, and
// a recipient whose keys do not open cannot use its token (Phase's SDKs fail on any such key): a
// grant is taken back app by app (revoke) and made again.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../../store/database.js';
import { asUuid } from '../../store/directory.js';
import { findApp, lockAppsForNewRows, lockEnvironmentsForNewRows, lockMemberIdentity, lockServiceAccountIdentity } from '../../store/apps.js';
import { listEnvironmentIdentities } from '../../store/client-protocol.js';
import { insertEnvironmentKeys } from '../../store/environment-keys.js';
import { addAppMemberships, removeAppMemberships, removeEnvironmentGrants, type AccountRef } from '../../store/individual-access.js';
import { findMember } from '../../store/members.js';
import { findServiceAccount } from '../../store/service-accounts.js';
import { allowsOrg, hasEnvironmentAccess, memberChangeDenial } from '../access.js';
import type { BodyReader, Call } from '../context.js';
import type { DomainDeps } from '../deps.js';
import { forbidden, invalid, notFound } from '../errors.js';
import type { AccessChange } from '../individual-access.js';
import { MEMBER_NOT_FOUND } from '../members.js';
import { SERVICE_ACCOUNT_NOT_FOUND } from '../service-accounts.js';
import { inTransaction } from '../transactions.js';
import { parseWrappedEnvironmentKeys, type WrappedEnvironmentKeys } from './validate.js';

/** What a revoke changed: the environments of the app the recipient held and no longer holds. */
export interface E2eeRevokeResult {
  recipient: AccountRef;
  appId: string;
  environmentsRevoked: string[];
}

/** What a grant changed: environments given now, and those the recipient already held (left as they were). */
export interface E2eeGrantResult {
  recipient: AccountRef;
  appId: string;
  environmentsGranted: string[];
  environmentsAlreadyHeld: string[];
}

function kindOf(recipient: AccountRef): 'member' | 'service_account' {
  return 'memberId' in recipient ? 'member' : 'service_account';
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
    const recipient = await this.#checkRecipient(call, body);
    const environments = await this.#environmentsOfE2eeApp(call);
    const given = this.#wrappedKeys(body.environments, environments);
    const notHeld = environments.filter((env) => given.has(env.id) && !hasEnvironmentAccess(call.access, env.id));
    if (notHeld.length > 0) {
      throw forbidden(`You can only pass on the keys of environments you hold yourself; you do not hold: ${notHeld.map((env) => env.name).join(', ')}.`);
    }

    const result = await inTransaction(this.deps.db, async ({ trx }) => {
      await this.#lockTargets(trx, call, recipient, [...given.keys()]);
      const at = new Date();
      // What was inserted, not what was read before: of two identical grants at once, the second
      // finds the rows of the first and reports them as already held (and writes no event).
      const appsAdded = await addAppMemberships(trx, org, recipient, [appRef.id], at);
      const inserted = new Set(
        await insertEnvironmentKeys(
          trx,
          environments
            .filter((env) => given.has(env.id))
            .map((env) => ({
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
        ),
      );
      const granted = environments.filter((env) => inserted.has(env.id)).map((env) => env.id);
      // One event, as an access change through the REST API writes (member.access, service_account.access).
      if (appsAdded.length > 0 || granted.length > 0) {
        const change = { appsAdded, appsRemoved: [], environmentsGranted: granted, environmentsRevoked: [] };
        await this.#audit(trx, call, recipient, change);
      }
      return {
        recipient,
        appId: appRef.id,
        environmentsGranted: granted,
        environmentsAlreadyHeld: environments.filter((env) => given.has(env.id) && !inserted.has(env.id)).map((env) => env.id),
      };
    });
    this.deps.invalidateDirectory();
    return result;
  }

  /**
   * DELETE /coffer/v1/apps/{app_id}/grants/: the recipient leaves the app and loses every key of
   * it, the way an access change through the REST API takes an app away (which that API cannot do
   * for one E2EE app alone). What it decrypted before cannot be taken back: rotate those secrets.
   */
  async revoke(call: Call, readBody: BodyReader): Promise<E2eeRevokeResult> {
    const appRef = call.target.app!;
    const org = call.principal.organisationId;
    const recipient = await this.#checkRecipient(call, readBody());
    const environments = await this.#environmentsOfE2eeApp(call);
    const result = await inTransaction(this.deps.db, async ({ trx }) => {
      await this.#lockTargets(trx, call, recipient, []);
      // Membership first, as every removal does (src/store/individual-access.ts removeAllIndividualAccess).
      // What was deleted, not what was read before: of two revokes at once, the second deletes nothing.
      const appsRemoved = await removeAppMemberships(trx, org, recipient, [appRef.id]);
      const deleted = new Set(await removeEnvironmentGrants(trx, org, recipient, environments.map((env) => env.id)));
      const revoked = environments.filter((env) => deleted.has(env.id)).map((env) => env.id);
      if (appsRemoved.length > 0 || revoked.length > 0) {
        const change = { appsAdded: [], appsRemoved, environmentsGranted: [], environmentsRevoked: revoked };
        await this.#audit(trx, call, recipient, change);
      }
      return { recipient, appId: appRef.id, environmentsRevoked: revoked };
    });
    this.deps.invalidateDirectory();
    return result;
  }

  /**
   * The recipient named by the body, after the checks of a REST access change: the right to change
   * that kind of account's access, the account live in the organisation, and, for a member whose
   * role has global access, a caller with global access too (members.ts memberChangeDenial).
   */
  async #checkRecipient(call: Call, body: Record<string, unknown>): Promise<AccountRef> {
    const recipient = this.#recipientOf(body);
    const kind = kindOf(recipient);
    if (!mayChangeAccessOf(call, kind)) {
      throw forbidden(kind === 'member' ? "You don't have permission to update members." : "You don't have permission to update service accounts.");
    }
    const org = call.principal.organisationId;
    if ('memberId' in recipient) {
      const member = await findMember(this.deps.db, org, recipient.memberId);
      if (!member) throw notFound(MEMBER_NOT_FOUND);
      const denial = memberChangeDenial(call.principal, call.access, { memberId: member.id, globalAccess: member.role_global_access === true });
      if (denial === 'member-global') throw forbidden('Only a member with global access can change the keys of a member with global access.');
      if (denial === 'service-account-global') throw forbidden('Service accounts cannot change the keys of members with global access.');
    } else if (!(await findServiceAccount(this.deps.db, org, recipient.serviceAccountId))) {
      throw notFound(SERVICE_ACCOUNT_NOT_FOUND);
    }
    return recipient;
  }

  /** The app's environments; 400 for an SSE app, 404 for one deleted since the request resolved it. */
  async #environmentsOfE2eeApp(call: Call) {
    const appRef = call.target.app!;
    const org = call.principal.organisationId;
    if (appRef.sse_enabled) throw invalid(`App '${appRef.name}' uses server-side encryption: its access is changed with PUT /v1/members/{id}/access/ or /v1/service-accounts/{id}/access/.`);
    const environments = await listEnvironmentIdentities(this.deps.db, org, appRef.id);
    if (environments.length === 0 && !(await findApp(this.deps.db, org, appRef.id))) throw notFound(`App with ID ${appRef.id} not found`);
    return environments;
  }

  /**
   * Lock order as access changes take it (account, apps, environments; src/store/apps.ts "Grantee
   * reads"): a removal of the recipient, or a delete of the app or an environment, either waits for
   * this change and takes it along, or came first and is answered 404 here.
   */
  async #lockTargets(trx: Tx, call: Call, recipient: AccountRef, environmentIds: string[]): Promise<void> {
    const appRef = call.target.app!;
    const org = call.principal.organisationId;
    const locked = 'memberId' in recipient ? await lockMemberIdentity(trx, org, recipient.memberId) : await lockServiceAccountIdentity(trx, org, recipient.serviceAccountId);
    if (!locked) throw notFound('memberId' in recipient ? MEMBER_NOT_FOUND : SERVICE_ACCOUNT_NOT_FOUND);
    if ((await lockAppsForNewRows(trx, org, [appRef.id])).length === 0) throw notFound(`App with ID ${appRef.id} not found`);
    const live = new Set(await lockEnvironmentsForNewRows(trx, org, environmentIds));
    if (environmentIds.some((id) => !live.has(id))) throw notFound(`App with ID ${appRef.id} not found`);
  }

  async #audit(trx: Tx, call: Call, recipient: AccountRef, change: AccessChange): Promise<void> {
    const resourceId = 'memberId' in recipient ? recipient.memberId : recipient.serviceAccountId;
    await this.deps.audit.append(trx, [
      { organisationId: call.principal.organisationId, actor: call, event: { kind: 'audit', action: `${kindOf(recipient)}.access`, appId: call.target.app!.id, resourceId, snapshot: { ...change } } },
    ]);
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

  /** `environments: [{id, wrappedSeed, wrappedSalt}]`, at least one. */
  #wrappedKeys(value: unknown, environments: ReadonlyArray<{ id: string }>): Map<string, WrappedEnvironmentKeys> {
    if (!Array.isArray(value) || value.length === 0) throw invalid("'environments' must be a non-empty list of {id, wrappedSeed, wrappedSalt}.");
    return parseWrappedEnvironmentKeys(value, new Set(environments.map((env) => env.id)));
  }

}
