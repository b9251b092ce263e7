// An end-to-end encrypted app (rest-api §7, OPEN-8): `sse_enabled = false` and environments without
// the server's copy of their keys, inserted through the domain's environment writer as an import would.
import { randomUUID } from 'node:crypto';
import { toHex } from '../../src/crypto/index.js';
import type { Domain } from '../../src/domain/index.js';
import type { Grantee } from '../../src/domain/environment-keys.js';
import { inTransaction } from '../../src/domain/transactions.js';
import type { OwnerFixture } from './fixtures.js';
import type { PrincipalFixture } from './principals.js';

export interface E2eeApp {
  appId: string;
  environments: Array<{ id: string; name: string }>;
}

/** `members` become app members with grants to every environment, like the owner. */
export async function createE2eeApp(
  domain: Domain,
  owner: OwnerFixture,
  name: string,
  environmentNames = ['Development', 'Staging', 'Production'],
  members: PrincipalFixture[] = [],
): Promise<E2eeApp> {
  const appId = randomUUID();
  const org = owner.organisationId;
  const environments = await inTransaction(domain.deps.db, async ({ trx, afterCommit }) => {
    const now = new Date();
    await trx.insertInto('apps').values({ id: appId, organisation_id: org, name, description: null, sse_enabled: false, created_at: now, updated_at: now }).execute();
    const accounts: Array<{ member_id: string | null; service_account_id: string | null }> = [{ member_id: owner.memberId, service_account_id: null }];
    const grantees: Grantee[] = [{ memberId: owner.memberId, identityKey: toHex(owner.keyring.publicKey) }];
    for (const p of members) {
      accounts.push(p.kind === 'member' ? { member_id: p.memberId, service_account_id: null } : { member_id: null, service_account_id: p.serviceAccountId });
      grantees.push(p.kind === 'member' ? { memberId: p.memberId, identityKey: p.identityKey } : { serviceAccountId: p.serviceAccountId, identityKey: p.identityKey });
    }
    await trx.insertInto('app_members').values(accounts.map((a) => ({ app_id: appId, organisation_id: org, ...a, created_at: now }))).execute();
    const specs = environmentNames.map((envName, index) => ({ name: envName, envType: 'custom' as const, index }));
    return domain.environments.insert(trx, org, appId, specs, grantees, false, afterCommit);
  });
  domain.deps.invalidateDirectory();
  return { appId, environments: environments.map((e) => ({ id: e.id, name: e.name })) };
}
