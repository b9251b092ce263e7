// Nothing secret at rest (DESIGN §4, crypto spec §3.5): after service accounts, tokens, grants,
// members and invites are made, no row of any table holds a bearer token, a full token string, a
// token's key shares, a service account's private key or an invite token in plaintext.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { kxKeyPairOfIdentity, parseIdentityKeyring, parseToken, toHex } from '../../../src/crypto/index.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { addApp, addMember, addServiceAccount, roleId } from '../accounts/helpers.js';

for (const target of STORE_TARGETS) {
  describe(`secrets at rest on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
    });
    after(() => server.close());

    /** Every row of every table of the schema, as JSON text, for this organisation's database. */
    async function dumpDatabase(): Promise<string> {
      const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(server.store.db);
      const parts: string[] = [];
      for (const { table_name } of tables.rows) {
        const rows = await sql<{ row: string }>`select row_to_json(t)::text as row from ${sql.table(table_name)} t`.execute(server.store.db);
        for (const r of rows.rows) parts.push(r.row);
      }
      return parts.join('\n').toLowerCase();
    }

    it('stores no bearer, token string, key share, private key or invite token in plaintext', async () => {
      const app = await addApp(api, 'Vault');
      const sa = await addServiceAccount(server, api, owner.organisationId, { name: 'at-rest-bot' });
      assert.equal((await api.put(`/v1/service-accounts/${sa.id}/access/`, { apps: [{ id: app.id, environments: [app.environments.Production] }] })).status, 200);
      const minted = await api.post(`/v1/service-accounts/${sa.id}/tokens/`, { name: 'second', expires_in: 3600 });
      assert.equal(minted.status, 201);
      const member = await addMember(server, owner.organisationId, 'Developer');
      assert.equal((await api.put(`/v1/members/${member.memberId}/access/`, { apps: [{ id: app.id, environments: [app.environments.Production] }] })).status, 200);
      const invite = await api.post('/v1/members/invites/', { email: 'secretive@example.com', role_id: await roleId(server, owner.organisationId, 'Developer') });
      const inviteToken = invite.body.inviteUrl.split('/').pop() as string;
      assert.equal((await api.post(`/v1/secrets/?app_id=${app.id}&env=Production`, { secrets: [{ key: 'VAULT_KEY', value: 'plaintext-value-7f3a', comment: 'hidden comment' }] })).status, 200);

      // The service account's private key, recovered the only legitimate way: through the master key.
      const row = await server.store.db.selectFrom('service_accounts').selectAll().where('id', '=', sa.id).executeTakeFirstOrThrow();
      assert.match(row.server_wrapped_keyring, /^cfr1:/);
      const keyring = parseIdentityKeyring(await server.domain.deps.masterKeyring.openText(row.server_wrapped_keyring, 'sa-keyring', `org:${owner.organisationId}/sa:${sa.id}/keyring`));
      const kx = kxKeyPairOfIdentity(keyring);

      const secrets: Record<string, string> = {
        'SA private key': toHex(keyring.privateKey),
        'SA private key seed half': toHex(keyring.privateKey.subarray(0, 32)),
        'SA kx private key': toHex(kx.privateKey),
        'invite token': inviteToken,
        'secret value': 'plaintext-value-7f3a',
        'secret comment': 'hidden comment',
        'owner private key': toHex(owner.keyring.privateKey),
        'member private key': toHex(member.keyring.privateKey),
      };
      for (const [label, token] of [['initial SA token', sa.token], ['minted SA token', minted.body.token], ['owner PAT', owner.token]] as const) {
        const parsed = parseToken(token);
        secrets[`${label} (full)`] = token;
        secrets[`${label} bearer`] = parsed.bearer;
        secrets[`${label} key share`] = parsed.clientShareHex;
        secrets[`${label} wrap key`] = parsed.wrapKeyHex;
      }
      const dump = await dumpDatabase();
      assert.ok(dump.includes(sa.id) && dump.includes(row.identity_key), 'the dump covers the service-account rows');
      for (const [label, value] of Object.entries(secrets)) {
        assert.ok(!dump.includes(value.toLowerCase()), `${label} is stored in plaintext`);
      }
      // Nor does anything secret reach the log.
      const logs = server.logs.join('\n').toLowerCase();
      for (const [label, value] of Object.entries(secrets)) assert.ok(!logs.includes(value.toLowerCase()), `${label} was logged`);
    });
  });
}
