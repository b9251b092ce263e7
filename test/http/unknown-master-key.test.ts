// A PostgreSQL database shared by servers with different master keys (as after a rotation that was
// not rolled out to every node): a server that was not given the key an organisation is sealed
// under refuses its reads and writes with 503 (a configuration fault, not a crash: never 500) and
// logs the key id it lacks; the client learns nothing about keys.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { assertError, createApp, listSecrets, postSecrets, secretsUrl } from '../helpers/world.js';

const SEALED_UNDER_UNKNOWN_KEY = 'This server cannot open the organisation\'s keys (its master key is not configured here); nothing was read or changed.';

for (const target of STORE_TARGETS.filter((t) => t.kind === 'postgres')) {
  describe(`a server without the organisation's master key on ${target.kind}`, () => {
    let sealing: TestServer;
    let other: TestServer;
    let owner: OwnerFixture;
    before(async () => {
      [sealing, other] = await Promise.all([startTestServer({ store: target.kind }), startTestServer({ store: target.kind })]);
      owner = await createOwner(sealing.domain);
    });
    after(() => Promise.all([sealing?.close(), other?.close()]));

    it('answers 503 to reads and writes, changes nothing, and logs the key id it lacks', async () => {
      const api: ApiClient = apiClient(sealing.url, owner.authorization);
      const app = await createApp(api, 'Sealed');
      const [secret] = await postSecrets(api, app.id, 'Development', [{ key: 'DB_URL', value: 'postgres://db' }]);
      const elsewhere = apiClient(other.url, owner.authorization);

      assertError(await elsewhere.get(secretsUrl(app.id, 'Development')), 503, SEALED_UNDER_UNKNOWN_KEY);
      assertError(await elsewhere.get(secretsUrl(app.id, 'Development', '&key=DB_URL')), 503, SEALED_UNDER_UNKNOWN_KEY);
      assertError(await elsewhere.post(secretsUrl(app.id, 'Development'), { secrets: [{ key: 'NEW', value: 'x' }] }), 503, SEALED_UNDER_UNKNOWN_KEY);
      assertError(await elsewhere.put(secretsUrl(app.id, 'Development'), { secrets: [{ id: secret.id, value: 'changed' }] }), 503, SEALED_UNDER_UNKNOWN_KEY);

      const after = await listSecrets(api, app.id, 'Development');
      assert.deepEqual(after.map((s: any) => [s.key, s.value]), [['DB_URL', 'postgres://db']]);
      const logged = other.logs.join('\n');
      assert.match(logged, /master key [0-9a-f]+ is not configured/);
      assert.doesNotMatch(logged, /unhandled error/);
    });
  });
}
