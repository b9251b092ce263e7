// Roles (rest-api §11, §3.4, Appendix A): defaults, custom roles and every validation message.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { APPENDIX_A_ROLES } from '../../fixtures/default-roles.js';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { addMember, addServiceAccount, roleId } from './helpers.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const ORG_CLASSES = 'Apps, Billing, ExternalIdentities, IntegrationCredentials, LogStreams, Logs, MemberPersonalAccessTokens, Members, NetworkAccessPolicies, Organisation, Roles, SCIM, SSO, ServiceAccountTokens, ServiceAccounts, Teams';
const APP_CLASSES = 'DynamicSecretLeases, EncryptionMode, Environments, Integrations, Lockbox, Logs, Members, RotatingSecrets, Secrets, ServiceAccounts, Teams, Tokens';

for (const target of STORE_TARGETS) {
  describe(`roles (§11) on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
    });
    after(() => server.close());

    it('lists the five defaults first and shows their built-in maps', async () => {
      const listed = await api.get('/v1/roles/');
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.data.slice(0, 5).map((r: any) => r.name), ['Owner', 'Admin', 'Manager', 'Developer', 'Service']);
      const developer = listed.body.data[3];
      assert.deepEqual(Object.keys(developer), ['id', 'name', 'description', 'color', 'isDefault', 'createdAt']);
      assert.deepEqual([developer.color, developer.isDefault], ['', true]);
      assert.equal(developer.description, 'Development users with limited organisation-level permissions. Requires explicit access to Apps and Environments.');
      for (const [index, definition] of APPENDIX_A_ROLES.entries()) {
        const detail = await api.get(`/v1/roles/${listed.body.data[index].id}/`);
        assert.equal(detail.status, 200);
        // As text: the order of classes and of actions is part of the contract.
        const expected = { permissions: definition.permissions, appPermissions: definition.appPermissions, globalAccess: definition.globalAccess };
        assert.equal(JSON.stringify(detail.body.permissions), JSON.stringify(expected), definition.name);
        assert.equal(detail.body.description, definition.description);
      }
      assert.deepEqual((await api.get(`/v1/roles/${UNKNOWN}/`)).body, { error: 'Role not found.' });
      assert.deepEqual((await api.get('/v1/roles/nope/')).body, { error: 'Role not found.' });
    });

    it('creates a custom role (D-14 adds globalAccess: false)', async () => {
      const created = await api.post('/v1/roles/', {
        name: ' <b>Auditor</b> ',
        description: 'reads things',
        color: '#aabbcc',
        permissions: { permissions: { Apps: ['read'], Logs: ['read', 'read'] }, appPermissions: { Secrets: ['read'] } },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.name, 'Auditor');
      assert.deepEqual([created.body.description, created.body.color, created.body.isDefault], ['reads things', '#aabbcc', false]);
      assert.deepEqual(created.body.permissions, { permissions: { Apps: ['read'], Logs: ['read', 'read'] }, appPermissions: { Secrets: ['read'] }, globalAccess: false });
      const detail = await api.get(`/v1/roles/${created.body.id}/`);
      assert.deepEqual(detail.body, created.body);
      const listed = await api.get('/v1/roles/');
      assert.equal(listed.body.data.at(-1).name, 'Auditor');
      const nulls = await api.post('/v1/roles/', { name: 'Nothing', permissions: { permissions: null, app_permissions: null } });
      assert.equal(nulls.status, 201, nulls.text);
      assert.deepEqual(nulls.body.permissions, { permissions: null, appPermissions: null, globalAccess: false });
      assert.deepEqual([nulls.body.description, nulls.body.color], ['', '']);
    });

    it('validates creation in Phase order (§11.3, §11.6)', async () => {
      const ok = { permissions: {}, app_permissions: {} };
      const cases: Array<[unknown, number, string]> = [
        [{ permissions: ok }, 400, 'Missing required field: name'],
        [{ name: 7, permissions: ok }, 400, "'name' must be a string."],
        [{ name: 'n'.repeat(65) }, 400, "'name' cannot exceed 64 characters."],
        [{ name: 'developer' }, 409, 'A role with this name already exists.'],
        [{ name: 'x1' }, 400, 'Missing required field: permissions (must be a JSON object)'],
        [{ name: 'x1', permissions: {} }, 400, 'Missing required field: permissions (must be a JSON object)'],
        [{ name: 'x1', permissions: [] }, 400, 'Missing required field: permissions (must be a JSON object)'],
        [{ name: 'x1', permissions: { zeta: 1, globalAccess: true, permissions: {} } }, 400, 'Unknown top-level keys: globalAccess, zeta. Allowed keys: permissions, app_permissions.'],
        [{ name: 'x1', permissions: { permissions: {} } }, 400, 'Missing required keys: app_permissions. Required keys: permissions, app_permissions.'],
        [{ name: 'x1', permissions: { foo: null } }, 400, 'Unknown top-level keys: foo. Allowed keys: permissions, app_permissions.'],
        // As JSON text has it: a key like any other (copied naively, it became the prototype and its keys passed for real ones).
        [{ name: 'x1', permissions: JSON.parse('{"__proto__": {"permissions": {"Apps": ["read"]}, "app_permissions": {}}}') }, 400, 'Unknown top-level keys: __proto__. Allowed keys: permissions, app_permissions.'],
        [{ name: 'x1', permissions: { appPermissions: {} } }, 400, 'Missing required keys: permissions. Required keys: permissions, app_permissions.'],
        [{ name: 'x1', permissions: { permissions: [], app_permissions: {} } }, 400, 'permissions must be a JSON object.'],
        [{ name: 'x1', permissions: { permissions: { Secrets: ['read'] }, app_permissions: {} } }, 400, `Unknown org permission class: 'Secrets'. Valid classes: ${ORG_CLASSES}.`],
        [{ name: 'x1', permissions: { permissions: { Apps: 'read' }, app_permissions: {} } }, 400, "Actions for 'Apps' must be an array."],
        [{ name: 'x1', permissions: { permissions: { Apps: ['list'] }, app_permissions: {} } }, 400, "Unknown action 'list' for org permission class 'Apps'. Valid actions: create, delete, read, update."],
        [{ name: 'x1', permissions: { permissions: { Logs: ['read', 'delete'] }, app_permissions: {} } }, 400, "Unknown action 'delete' for org permission class 'Logs'. Valid actions: read."],
        [{ name: 'x1', permissions: { permissions: { Apps: [1] }, app_permissions: {} } }, 400, "Unknown action '1' for org permission class 'Apps'. Valid actions: create, delete, read, update."],
        [{ name: 'x1', permissions: { permissions: { Apps: [null] }, app_permissions: {} } }, 400, "Unknown action 'None' for org permission class 'Apps'. Valid actions: create, delete, read, update."],
        [{ name: 'x1', permissions: { permissions: {}, app_permissions: 'x' } }, 400, 'app_permissions must be a JSON object.'],
        [{ name: 'x1', permissions: { permissions: {}, app_permissions: { Apps: [] } } }, 400, `Unknown app permission class: 'Apps'. Valid classes: ${APP_CLASSES}.`],
        [{ name: 'x1', permissions: { permissions: {}, app_permissions: { EncryptionMode: ['create'] } } }, 400, "Unknown action 'create' for app permission class 'EncryptionMode'. Valid actions: read, update."],
        [{ name: 'x1', permissions: { permissions: {}, app_permissions: { Secrets: {} } } }, 400, "Actions for 'Secrets' must be an array."],
        [{ name: 'x1', permissions: ok, description: 5 }, 400, "'description' must be a string."],
        [{ name: 'x1', permissions: ok, description: 'd'.repeat(501) }, 400, "'description' cannot exceed 500 characters."],
        [{ name: 'x1', permissions: ok, color: '#12345678' }, 400, 'Role color cannot exceed 7 characters.'],
        [{ name: 'x1', permissions: ok, color: 1234 }, 400, "'color' must be a string."],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.post('/v1/roles/', body);
        assert.deepEqual([res.status, res.body], [status, { error }], JSON.stringify(body));
      }
      // The later of `app_permissions` / `appPermissions` wins.
      const later = await api.post('/v1/roles/', '{"name": "Later", "permissions": {"permissions": {}, "appPermissions": {"Tokens": ["bogus"]}, "app_permissions": {"Tokens": ["read"]}}}');
      assert.equal(later.status, 201, later.text);
      assert.deepEqual(later.body.permissions.appPermissions, { Tokens: ['read'] });
      const earlier = await api.post('/v1/roles/', '{"name": "Earlier", "permissions": {"permissions": {}, "app_permissions": {"Tokens": ["read"]}, "appPermissions": {"Tokens": ["bogus"]}}}');
      assert.deepEqual([earlier.status, earlier.body.error], [400, "Unknown action 'bogus' for app permission class 'Tokens'. Valid actions: create, delete, read, update."]);
    });

    it('updates custom roles only, with Phase messages (§11.4)', async () => {
      const created = await api.post('/v1/roles/', { name: 'Editable', permissions: { permissions: {}, app_permissions: {} } });
      const url = `/v1/roles/${created.body.id}/`;
      assert.deepEqual((await api.put(`/v1/roles/${UNKNOWN}/`, {})).body, { error: 'Role not found.' });
      const adminId = await roleId(server, owner.organisationId, 'Admin');
      assert.deepEqual((await api.put(`/v1/roles/${adminId}/`, { name: 'x' })).body, { error: 'Default roles cannot be modified.' });
      const cases: Array<[unknown, number, string]> = [
        [{}, 400, 'At least one field must be provided.'],
        [{ name: null, color: null }, 400, 'At least one field must be provided.'],
        [{ name: '  ' }, 400, 'Missing required field: name'],
        [{ name: 'OWNER' }, 409, 'A role with this name already exists.'],
        [{ description: 'd'.repeat(501) }, 400, "'description' cannot exceed 500 characters."],
        [{ color: '12345678' }, 400, 'Role color cannot exceed 7 characters.'],
        [{ permissions: [] }, 400, 'Permissions must be a JSON object.'],
        [{ permissions: {} }, 400, 'Missing required keys: app_permissions, permissions. Required keys: permissions, app_permissions.'],
        [{ name: 'Renamed', permissions: { permissions: { Nope: [] }, app_permissions: {} } }, 400, `Unknown org permission class: 'Nope'. Valid classes: ${ORG_CLASSES}.`],
      ];
      for (const [body, status, error] of cases) {
        const res = await api.put(url, body);
        assert.deepEqual([res.status, res.body], [status, { error }], JSON.stringify(body));
      }
      assert.equal((await api.get(url)).body.name, 'Editable', 'nothing is saved when a check fails');
      const renamedCase = await api.put(url, { name: 'EDITABLE' });
      assert.equal(renamedCase.status, 200, 'a role may take a different case of its own name');
      const updated = await api.put(url, { name: 'Reader', description: '   ', color: '#fff', permissions: { permissions: { Roles: ['read'] }, app_permissions: null } });
      assert.equal(updated.status, 200, updated.text);
      assert.deepEqual([updated.body.name, updated.body.description, updated.body.color], ['Reader', '', '#fff']);
      assert.deepEqual(updated.body.permissions, { permissions: { Roles: ['read'] }, appPermissions: null, globalAccess: false });
    });

    it('applies a role change to its holders at once', async () => {
      const created = await api.post('/v1/roles/', { name: 'Switchable', permissions: { permissions: { Roles: ['read'] }, app_permissions: {} } });
      const sa = await addServiceAccount(server, api, owner.organisationId);
      assert.equal((await api.put(`/v1/service-accounts/${sa.id}/`, { role_id: created.body.id })).status, 200);
      assert.equal((await sa.api.get('/v1/roles/')).status, 200);
      assert.equal((await api.put(`/v1/roles/${created.body.id}/`, { permissions: { permissions: {}, app_permissions: {} } })).status, 200);
      assert.deepEqual((await sa.api.get('/v1/roles/')).body, { error: "You don't have permission to read roles." });
    });

    it('deletes only unused custom roles (§11.5)', async () => {
      const ownerRole = await roleId(server, owner.organisationId, 'Owner');
      assert.deepEqual((await api.delete(`/v1/roles/${UNKNOWN}/`)).body, { error: 'Role not found.' });
      assert.deepEqual((await api.delete(`/v1/roles/${ownerRole}/`)).body, { error: 'Default roles cannot be deleted.' });
      const make = async (name: string) => (await api.post('/v1/roles/', { name, permissions: { permissions: { Members: ['read'] }, app_permissions: {} } })).body.id as string;

      const heldByMember = await make('HeldByMember');
      const member = await addMember(server, owner.organisationId, 'Developer');
      assert.equal((await api.put(`/v1/members/${member.memberId}/`, { role_id: heldByMember })).status, 200);
      assert.deepEqual([(await api.delete(`/v1/roles/${heldByMember}/`)).status, (await api.delete(`/v1/roles/${heldByMember}/`)).body.error], [409, 'Cannot delete a role that has members assigned to it.']);

      const heldBySa = await make('HeldBySa');
      const sa = await addServiceAccount(server, api, owner.organisationId);
      await api.put(`/v1/service-accounts/${sa.id}/`, { role_id: heldBySa });
      assert.deepEqual((await api.delete(`/v1/roles/${heldBySa}/`)).body, { error: 'Cannot delete a role that has service accounts assigned to it.' });
      assert.equal((await api.delete(`/v1/service-accounts/${sa.id}/`)).status, 204);
      assert.equal((await api.delete(`/v1/roles/${heldBySa}/`)).status, 204, 'a deleted service account no longer holds it');

      const invited = await make('Invited');
      assert.equal((await api.post('/v1/members/invites/', { email: 'invitee@example.com', role_id: invited })).status, 201);
      assert.deepEqual((await api.delete(`/v1/roles/${invited}/`)).body, { error: 'Cannot delete a role that has pending invites assigned to it.' });

      const unused = await make('Unused');
      const deleted = await api.delete(`/v1/roles/${unused}/`);
      assert.deepEqual([deleted.status, deleted.text], [204, '']);
      assert.equal((await api.get(`/v1/roles/${unused}/`)).status, 404);
    });

    it('checks the Roles permission by method', async () => {
      const service = await addServiceAccount(server, api, owner.organisationId);
      assert.equal((await service.api.get('/v1/roles/')).status, 200, 'Service may read roles');
      assert.deepEqual((await service.api.post('/v1/roles/', {})).body, { error: "You don't have permission to create roles." });
      const id = await roleId(server, owner.organisationId, 'Developer');
      assert.deepEqual((await service.api.put(`/v1/roles/${id}/`, {})).body, { error: "You don't have permission to update roles." });
      assert.deepEqual((await service.api.delete(`/v1/roles/${id}/`)).body, { error: "You don't have permission to delete roles." });
      assert.deepEqual((await service.api.call('PATCH', `/v1/roles/${id}/`)).body, { error: 'Method "PATCH" not allowed.' });
    });
  });
}
