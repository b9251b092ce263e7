// An end-to-end encrypted app (rest-api §7, OPEN-8): `sse_enabled = false` and environments without
// the server's copy of their keys, inserted through the domain's environment writer as an import would.
import { randomUUID } from 'node:crypto';
import { toHex } from '../../src/crypto/index.js';
import type { Domain } from '../../src/domain/index.js';
import { inTransaction } from '../../src/domain/transactions.js';
import type { OwnerFixture } from './fixtures.js';

export interface E2eeApp {
  appId: string;
  environments: Array<{ id: string; name: string }>;
}

export async function createE2eeApp(domain: Domain, owner: OwnerFixture, name: string, environmentNames = ['Development', 'Staging', 'Production']): Promise<E2eeApp> {
  const appId = randomUUID();
  const org = owner.organisationId;
  const environments = await inTransaction(domain.deps.db, async ({ trx, afterCommit }) => {
    const now = new Date();
    await trx.insertInto('apps').values({ id: appId, organisation_id: org, name, description: null, sse_enabled: false, created_at: now, updated_at: now }).execute();
    await trx.insertInto('app_members').values({ app_id: appId, organisation_id: org, member_id: owner.memberId, service_account_id: null, created_at: now }).execute();
    const specs = environmentNames.map((envName, index) => ({ name: envName, envType: 'custom' as const, index }));
    return domain.environments.insert(trx, org, appId, specs, [{ memberId: owner.memberId, identityKey: toHex(owner.keyring.publicKey) }], false, afterCommit);
  });
  domain.deps.invalidateDirectory();
  return { appId, environments: environments.map((e) => ({ id: e.id, name: e.name })) };
}
