// Members and invites (rest-api §12, §3.6, §3.7): listing, role changes with every owner and
// global-access rule, removal, declarative access, invites with e-mail validation and conflicts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isValidEmail } from '../../../src/domain/invites.js';
import { MAX_EMAIL_LENGTH } from '../../../src/domain/organisations.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { request, startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { makeMaterial } from '../console/accounts.js';
import { addApp, addMember, addServiceAccount, roleId } from './helpers.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/** A valid address of exactly MAX_EMAIL_LENGTH (254) characters: 64 of `letter`, then a 189-character domain. */
function longestAddress(letter: string): string {
  const address = `${letter.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
  assert.equal(address.length, MAX_EMAIL_LENGTH);
  return address;
}

describe('invitee e-mail validation (Django EmailValidator)', () => {
  it('allows the account length, 254 characters, and no more', () => {
    assert.equal(isValidEmail(longestAddress('a')), true);
    assert.equal(isValidEmail(`a${longestAddress('a')}`), false);
  });

  it('accepts and refuses the forms Django does', () => {
    for (const ok of ['a@example.com', 'first.last+tag@sub.example.co', '"quoted@local"@example.com', 'x@localhost', 'x@[127.0.0.1]', 'x@[::1]', 'user@bücher.de', "o'brien@example.io"]) {
      assert.equal(isValidEmail(ok), true, ok);
    }
    for (const bad of ['', 'plain', '@example.com', 'a@', 'a@example', 'a..b@example.com', 'a@-example.com', 'a@example.c', 'a b@example.com', '"quoted local"@example.com', 'a@[999.1.1.1]', `${'a'.repeat(310)}@example.com`, 'a@example.com-']) {
      assert.equal(isValidEmail(bad), false, bad);
    }
  });
});

for (const target of STORE_TARGETS) {
  describe(`members and invites (§12) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let role: (name: string) => Promise<string>;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain, { email: 'owner@example.com' });
      api = apiClient(server.url, owner.authorization);
      role = (name) => roleId(server, owner.organisationId, name);
    });
    after(() => server.close());

    it('lists active members oldest first, and shows one', async () => {
      const dev = await addMember(server, owner.organisationId, 'Developer', { fullName: 'Dee Veloper' });
      const listed = await api.get('/v1/members/');
      assert.equal(listed.status, 200);
      assert.equal(listed.body.data[0].id, owner.memberId);
      const me = listed.body.data[0];
      assert.deepEqual(Object.keys(me), ['id', 'username', 'fullName', 'email', 'role', 'createdAt', 'updatedAt']);
      assert.deepEqual([me.email, me.fullName, me.role.name], ['owner@example.com', null, 'Owner']);
      const detail = await api.get(`/v1/members/${dev.memberId}/`);
      assert.deepEqual([detail.body.fullName, detail.body.email, detail.body.role.name], ['Dee Veloper', dev.email, 'Developer']);
      assert.deepEqual((await api.get(`/v1/members/${UNKNOWN}/`)).body, { error: 'Member not found.' });
      assert.deepEqual((await api.get('/v1/members/123/')).body, { error: 'Member not found.' });
      // POST /v1/members/ is 405 before any permission check.
      const service = await addServiceAccount(server, api, owner.organisationId, { role: 'Service' });
      assert.deepEqual((await service.api.post('/v1/members/', {})).body, { error: 'Method "POST" not allowed.' });
      assert.deepEqual((await dev.api.put(`/v1/members/${dev.memberId}/`, {})).body, { error: "You don't have permission to update members." });
      assert.deepEqual((await dev.api.delete(`/v1/members/${owner.memberId}/`)).body, { error: "You don't have permission to delete members." });
      assert.deepEqual((await dev.api.post('/v1/members/invites/', {})).body, { error: "You don't have permission to create members." });
      assert.equal((await dev.api.get('/v1/members/invites/')).status, 200, 'Developer may read members and invites');
    });

    it('changes roles with the owner and global-access rules in order (§12.3)', async () => {
      const admin = await addMember(server, owner.organisationId, 'Admin');
      const manager = await addMember(server, owner.organisationId, 'Manager');
      const target = await addMember(server, owner.organisationId, 'Developer');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const membersRole = await api.post('/v1/roles/', { name: 'MemberAdmin', permissions: { permissions: { Members: ['read', 'update', 'delete'] }, app_permissions: {} } });
      await api.put(`/v1/service-accounts/${sa.id}/`, { role_id: membersRole.body.id });
      const url = (id: string) => `/v1/members/${id}/`;
      const expect = async (caller: ApiClient, id: string, body: unknown, status: number, error: string) => {
        const res = await caller.put(url(id), body);
        assert.deepEqual([res.status, res.body], [status, { error }], `${id} ${JSON.stringify(body)}`);
      };
      await expect(api, UNKNOWN, { role_id: await role('Developer') }, 404, 'Member not found.');
      await expect(admin.api, owner.memberId, { role_id: await role('Developer') }, 403, 'The Owner role cannot be changed via the API. Use the ownership transfer flow.');
      await expect(manager.api, manager.memberId, {}, 403, 'You cannot update your own role.');
      await expect(manager.api, admin.memberId, {}, 403, 'You cannot update the role of a member with global access.');
      await expect(sa.api, admin.memberId, {}, 403, 'Service accounts cannot modify members with global access.');
      await expect(api, target.memberId, {}, 400, 'Missing required field: role_id');
      await expect(api, target.memberId, { role_id: '' }, 400, 'Missing required field: role_id');
      await expect(api, target.memberId, { role_id: UNKNOWN }, 404, 'Role not found.');
      await expect(api, target.memberId, { role_id: 'x' }, 404, 'Role not found.');
      await expect(api, target.memberId, { role_id: await role('Owner') }, 403, 'You cannot assign the Owner role directly. Use the ownership transfer flow.');
      await expect(manager.api, target.memberId, { role_id: await role('Admin') }, 403, "You cannot assign the 'Admin' role.");
      await expect(sa.api, target.memberId, { role_id: await role('Admin') }, 403, "You cannot assign the 'Admin' role.");
      const changed = await sa.api.put(url(target.memberId), { role_id: await role('Manager') });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.body.role.name, 'Manager');
      assert.equal((await target.api.get('/v1/service-accounts/')).status, 200, 'the new role applies at once');
    });

    it('grants every app and environment on promotion to a global-access role (OPEN-9)', async () => {
      const app = await addApp(api, 'Everything');
      const member = await addMember(server, owner.organisationId, 'Developer');
      assert.deepEqual((await member.api.get(`/v1/secrets/?app_id=${app.id}&env=Production`)).body, { error: 'User cannot access this environment' });
      const promoted = await api.put(`/v1/members/${member.memberId}/`, { role_id: await role('Admin') });
      assert.equal(promoted.status, 200, promoted.text);
      assert.equal((await member.api.get(`/v1/secrets/?app_id=${app.id}&env=Production`)).status, 200);
      assert.ok((await member.api.get('/v1/apps/')).body.data.some((a: any) => a.id === app.id));
      // Demotion keeps the grants (§12.4).
      assert.equal((await api.put(`/v1/members/${member.memberId}/`, { role_id: await role('Developer') })).status, 200);
      assert.equal((await member.api.get(`/v1/secrets/?app_id=${app.id}&env=Production`)).status, 200);
    });

    it('removes members with the rules of §12.5; their PAT then gets 404 User not found', async () => {
      const admin = await addMember(server, owner.organisationId, 'Admin');
      const manager = await addMember(server, owner.organisationId, 'Manager');
      const target = await addMember(server, owner.organisationId, 'Developer');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      const membersRole = await api.post('/v1/roles/', { name: 'Remover', permissions: { permissions: { Members: ['read', 'delete'] }, app_permissions: {} } });
      await api.put(`/v1/service-accounts/${sa.id}/`, { role_id: membersRole.body.id });
      const expect = async (caller: ApiClient, id: string, status: number, error: string) => {
        const res = await caller.delete(`/v1/members/${id}/`);
        assert.deepEqual([res.status, res.body], [status, { error }]);
      };
      await expect(api, UNKNOWN, 404, 'Member not found.');
      await expect(admin.api, owner.memberId, 403, 'The Owner cannot be removed via the API. Use the ownership transfer flow.');
      await expect(manager.api, manager.memberId, 403, 'You cannot remove yourself from the organisation.');
      await expect(manager.api, admin.memberId, 403, 'You cannot remove a member with a global access role.');
      await expect(sa.api, admin.memberId, 403, 'Service accounts cannot remove members with global access.');
      const app = await addApp(api, 'Leaving');
      await api.put(`/v1/members/${target.memberId}/access/`, { apps: [{ id: app.id, environments: [app.environments.Development] }] });
      assert.equal((await target.api.get('/v1/members/')).status, 200);
      const removed = await manager.api.delete(`/v1/members/${target.memberId}/`);
      assert.deepEqual([removed.status, removed.text], [204, '']);
      assert.deepEqual((await target.api.get('/v1/members/')).body, { error: 'User not found' });
      assert.deepEqual((await target.api.get(`/v1/secrets/?app_id=${app.id}&env=Development`)).body, { error: 'User not found' });
      assert.ok(!(await api.get('/v1/members/')).body.data.some((m: any) => m.id === target.memberId));
      assert.equal((await api.get(`/v1/members/${target.memberId}/`)).status, 404);
      const grants = await server.store.db.selectFrom('environment_keys').select('id').where('member_id', '=', target.memberId).execute();
      assert.equal(grants.length, 0, "the removed member's wrapped keys are gone");
      await expect(admin.api, target.memberId, 404, 'Member not found.');
    });

    it('reads and sets member access declaratively (§12.6)', async () => {
      const app = await addApp(api, 'Shared');
      const member = await addMember(server, owner.organisationId, 'Developer');
      const url = `/v1/members/${member.memberId}/access/`;
      const empty = await api.get(url);
      assert.equal(empty.status, 200);
      assert.deepEqual(Object.keys(empty.body), ['id', 'username', 'fullName', 'email', 'role', 'createdAt', 'updatedAt', 'apps']);
      assert.deepEqual(empty.body.apps, []);
      assert.deepEqual((await api.get(`/v1/members/${UNKNOWN}/access/`)).body, { error: 'Member not found.' });
      const admin = await addMember(server, owner.organisationId, 'Admin');
      assert.deepEqual((await api.put(`/v1/members/${admin.memberId}/access/`, { apps: [] })).body, { error: 'Access cannot be changed for members with a global access role.' });
      assert.deepEqual((await api.put(url, { apps: [{ id: app.id, environments: [] }] })).body, {
        error: `'environments' for app '${app.id}' must not be empty. To revoke all access, remove the app from the list entirely.`,
      });
      assert.deepEqual((await api.put(url, {})).body, { error: 'Missing required field: apps' });
      const set = await api.put(url, { apps: [{ id: app.id, environments: [app.environments.Staging] }] });
      assert.equal(set.status, 200, set.text);
      assert.deepEqual(set.body.apps, [{ id: app.id, name: 'Shared', environments: [{ id: app.environments.Staging, name: 'Staging', envType: 'staging' }] }]);
      assert.deepEqual((await api.get(url)).body.apps, set.body.apps);
      // The member's own PAT now opens Staging (the grant is wrapped to the member's identity key).
      assert.equal((await member.api.get(`/v1/secrets/?app_id=${app.id}&env=Staging`)).status, 200);
      assert.equal((await member.api.get(`/v1/secrets/?app_id=${app.id}&env=Production`)).status, 403);
      const grant = await server.store.db.selectFrom('environment_keys').selectAll().where('member_id', '=', member.memberId).executeTakeFirstOrThrow();
      const { kxKeyPairOfIdentity, verifyEnvironmentGrant } = await import('../../../src/crypto/index.js');
      verifyEnvironmentGrant({ identityKey: grant.identity_key, wrappedSeed: grant.wrapped_seed, wrappedSalt: grant.wrapped_salt }, kxKeyPairOfIdentity(member.keyring));
      assert.equal((await api.put(url, { apps: [] })).status, 200);
      assert.equal((await member.api.get(`/v1/secrets/?app_id=${app.id}&env=Staging`)).status, 403);
      assert.deepEqual((await member.api.get(`/v1/members/${member.memberId}/access/`)).status, 200, 'read needs Members/read only');
      assert.deepEqual((await member.api.put(url, { apps: [] })).body, { error: "You don't have permission to update members." });
      assert.deepEqual((await api.post(url, {})).body, { error: 'Method "POST" not allowed.' });
    });

    it('creates, lists and deletes invites with every rule of §12.7', async () => {
      const developer = await role('Developer');
      const cases: Array<[unknown, number, string]> = [
        [{ role_id: developer }, 400, 'Missing required field: email'],
        [{ email: '   ', role_id: developer }, 400, 'Missing required field: email'],
        [{ email: 5, role_id: developer }, 400, "'email' must be a string."],
        [{ email: ' Not An Email ', role_id: developer }, 400, "'not an email' is not a valid email address."],
        [{ email: 'new@example.com' }, 400, 'Missing required field: role_id'],
        [{ email: 'new@example.com', role_id: UNKNOWN }, 404, 'Role not found.'],
        [{ email: 'new@example.com', role_id: await role('Admin') }, 400, "Members cannot be invited with the 'Admin' role."],
        [{ email: 'new@example.com', role_id: await role('Manager') }, 400, 'Members cannot be invited with a role that allows creating service account tokens.'],
        [{ email: ' OWNER@example.com ', role_id: developer, apps: [] }, 409, "'owner@example.com' is already a member of this organisation."],
        [{ email: 'new@example.com', role_id: developer, apps: [] }, 400, "The 'apps' field is not accepted when creating an invite. Use PUT /v1/members/<id>/access/ after the invitee accepts and completes their key ceremony."],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.post('/v1/members/invites/', body);
        assert.deepEqual([res.status, res.body], [status, { error }], JSON.stringify(body));
      }
      const created = await api.post('/v1/members/invites/', { email: ' New@Example.com', role_id: developer });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(Object.keys(created.body), ['id', 'inviteeEmail', 'role', 'invitedBy', 'createdAt', 'expiresAt', 'valid', 'inviteUrl']);
      assert.equal(created.body.inviteeEmail, 'new@example.com');
      assert.deepEqual(created.body.invitedBy, { type: 'member', email: 'owner@example.com' });
      assert.equal(created.body.valid, true);
      assert.equal(Date.parse(created.body.expiresAt) - Date.parse(created.body.createdAt), 14 * 24 * 3600 * 1000);
      const match = /^http:\/\/127\.0\.0\.1:\d+\/invites\/([0-9a-f]{64})$/.exec(created.body.inviteUrl);
      assert.ok(match, created.body.inviteUrl);
      const row = await server.store.db.selectFrom('invites').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow();
      assert.equal(row.token_hash, createHash('sha256').update(match[1]!, 'utf8').digest('hex'), 'only the hash of the invite token is stored');

      const again = await api.post('/v1/members/invites/', { email: 'new@example.com', role_id: developer, apps: [] });
      assert.deepEqual([again.status, again.body], [409, { error: "An active invite already exists for 'new@example.com'." }]);

      const sa = await addServiceAccount(server, api, owner.organisationId);
      const inviterRole = await api.post('/v1/roles/', { name: 'Inviter', permissions: { permissions: { Members: ['create', 'read'] }, app_permissions: {} } });
      await api.put(`/v1/service-accounts/${sa.id}/`, { role_id: inviterRole.body.id });
      const bySa = await sa.api.post('/v1/members/invites/', { email: 'second@example.com', role_id: developer });
      assert.equal(bySa.status, 201, bySa.text);
      assert.deepEqual(bySa.body.invitedBy, { type: 'service_account', name: 'bot' });

      const listed = await api.get('/v1/members/invites/');
      assert.deepEqual(listed.body.data.map((i: any) => i.inviteeEmail), ['second@example.com', 'new@example.com']);
      assert.ok(!('inviteUrl' in listed.body.data[0]), 'the invite link is shown once');
      // An expired invite is not listed, does not block a new one, and can still be deleted.
      await server.store.db.updateTable('invites').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', created.body.id).execute();
      assert.deepEqual((await api.get('/v1/members/invites/')).body.data.map((i: any) => i.inviteeEmail), ['second@example.com']);
      assert.equal((await api.post('/v1/members/invites/', { email: 'new@example.com', role_id: developer })).status, 201);
      assert.equal((await api.delete(`/v1/members/invites/${created.body.id}/`)).status, 204);
      assert.deepEqual((await api.delete(`/v1/members/invites/${created.body.id}/`)).body, { error: 'Invite not found.' });
      assert.deepEqual((await api.delete('/v1/members/invites/nope/')).body, { error: 'Invite not found.' });
      assert.deepEqual((await api.get(`/v1/members/invites/${bySa.body.id}/`)).body, { error: 'Method "GET" not allowed.' });
      assert.deepEqual((await api.put('/v1/members/invites/', {})).body, { error: 'Method "PUT" not allowed.' });
    });

    it('invites an address as long as an account may have (254), which can then be accepted, and refuses one longer (400)', async () => {
      const longest = longestAddress('l');
      const tooLong = await api.post('/v1/members/invites/', { email: `l${longest}`, role_id: await role('Developer') });
      assert.deepEqual([tooLong.status, tooLong.body], [400, { error: `'${'l'.repeat(64)}…' is not a valid email address.` }]);
      const created = await api.post('/v1/members/invites/', { email: longest, role_id: await role('Developer') });
      assert.equal(created.status, 201, created.text);
      const token = String(created.body.inviteUrl).split('/').pop();
      const material = await makeMaterial(owner.organisationId, longest);
      const accepted = await request(`${server.url}/coffer/v1/invites/${token}/accept/`, {
        method: 'POST',
        json: { email: longest, loginHash: material.loginHash, keyring: material.keyringBody, token: material.pat.body },
      });
      assert.equal(accepted.status, 201, accepted.text);
      assert.equal(accepted.body.email, longest);
    });
  });
}
