// Concurrent writes (rest-api §4.4, §4.6; docs/client-protocol.md "Checks and storage"): writes to
// one environment are serialised by the environment's row lock, on PGlite and on PostgreSQL alike.
// 50 concurrent PUTs of one secret get the versions 2..51, each exactly once, one update event each,
// and the stored value is the one of the highest version; concurrent creates of one key at one path
// (REST and client protocol) succeed exactly once, every other gets 409 `Duplicate secret found`.
// Concurrent environment creates in one app (rest-api §9.3) each get the next index once: the app's
// row lock serialises them (before it, on PostgreSQL three creates all got index 3).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';
import { createApp, secretEvents, secretsUrl, type CreatedApp } from '../helpers/world.js';

const PUTS = 50;
const CREATES = 20;
const ENVIRONMENT_ROUNDS = 5;
const ENVIRONMENT_CREATES = 5;
const TAG_ROUNDS = 30;
const TAG_COUNT = 30;

/** A well-formed client ciphertext (the client protocol stores it verbatim). */
/** The shape of a ph:v1 ciphertext (a nonce, the text, a MAC), which the server checks and stores as sent. */
const ciphertext = (text: string) => `ph:v1:${randomBytes(32).toString('hex')}:${Buffer.concat([randomBytes(24), Buffer.from(text), randomBytes(16)]).toString('base64')}`;

for (const target of STORE_TARGETS) {
  describe(`concurrent writes on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    before(async () => {
      server = await startTestServer({ store: target.kind, env: { LOG_LEVEL: 'warn' } });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, `concurrency-${randomBytes(3).toString('hex')}`);
    });
    after(() => server.close());

    it(`${PUTS} concurrent PUTs of one secret: versions 2..${PUTS + 1} once each, one event each, no lost update`, async () => {
      const url = secretsUrl(app.id, 'development');
      const [secret] = (await api.post(url, { secrets: [{ key: 'CONTENDED', value: 'v0' }] })).body;
      assert.equal(secret.version, 1);
      const responses = await Promise.all(
        Array.from({ length: PUTS }, (_, i) => api.put(url, { secrets: [{ id: secret.id, value: `value-${i}`, comment: `writer ${i}` }] })),
      );
      for (const res of responses) assert.equal(res.status, 200, res.text);
      const versions = responses.map((res) => res.body[0].version as number).sort((a, b) => a - b);
      assert.deepEqual(versions, Array.from({ length: PUTS }, (_, i) => i + 2), 'each version exactly once');
      // Each response shows the state its own write produced.
      for (const [i, res] of responses.entries()) assert.equal(res.body[0].value, `value-${i}`);

      const last = responses.find((res) => res.body[0].version === PUTS + 1)!;
      const listed = await api.get(`${url}&key=CONTENDED`);
      assert.equal(listed.body.length, 1);
      assert.equal(listed.body[0].version, PUTS + 1);
      assert.equal(listed.body[0].value, last.body[0].value, 'the stored value is the highest version');
      assert.equal(listed.body[0].comment, last.body[0].comment);

      const events = (await secretEvents(server.domain, owner.organisationId, app.env.development!.id, { writes: true })).filter((e) => e.secret_id === secret.id);
      assert.equal(events.filter((e) => e.action === 'create').length, 1);
      assert.equal(events.filter((e) => e.action === 'update').length, PUTS, 'one event per acknowledged update');
      // The trail orders the updates as their versions (and as the revisions of the environment).
      const revisions = events.map((e) => Number(e.environment_revision));
      assert.deepEqual(revisions, [...revisions].sort((a, b) => a - b));
      assert.equal(new Set(revisions).size, revisions.length);

      const history = await api.get(`/v1/secrets/${secret.id}/history/`);
      assert.equal(history.status, 200, history.text);
    });

    it(`${CREATES} concurrent REST creates of one key at one path: one 200, the rest 409`, async () => {
      const url = secretsUrl(app.id, 'staging');
      const responses = await Promise.all(
        Array.from({ length: CREATES }, (_, i) => api.post(url, { secrets: [{ key: i % 2 ? 'race_key' : 'RACE_KEY', value: `v${i}`, path: i % 3 ? '/race' : '/race/' }] })),
      );
      assert.equal(responses.filter((r) => r.status === 200).length, 1, responses.map((r) => r.status).join(','));
      for (const res of responses.filter((r) => r.status !== 200)) assert.deepEqual({ status: res.status, body: res.body }, { status: 409, body: { error: 'Duplicate secret found' } });
      const listed = await api.get(`${url}&path=/race`);
      assert.equal(listed.body.length, 1);
      const winner = responses.find((r) => r.status === 200)!;
      assert.equal(listed.body[0].value, winner.body[0].value);
    });

    it(`${TAG_ROUNDS} rounds of two writes to two environments adding the same ${TAG_COUNT} new tags in opposite orders: both 200`, async () => {
      // Tags belong to the organisation, not the environment, so these writes are not serialised by an
      // environment lock: inserting the names in request order deadlocked on PostgreSQL (a 500 in
      // about one round of ten).
      for (let round = 0; round < TAG_ROUNDS; round++) {
        const tags = Array.from({ length: TAG_COUNT }, (_, i) => `tag-${round}-${i}-${randomBytes(2).toString('hex')}`);
        const answers = await Promise.all([
          api.post(secretsUrl(app.id, 'development'), { secrets: [{ key: `TAGGED_${round}`, value: 'a', tags }] }),
          api.post(secretsUrl(app.id, 'production'), { secrets: [{ key: `TAGGED_${round}`, value: 'b', tags: [...tags].reverse() }] }),
        ]);
        assert.deepEqual(answers.map((a) => a.status), [200, 200], answers.map((a) => a.text.slice(0, 120)).join(' | '));
      }
    });

    it(`${CREATES} concurrent client-protocol creates of one key digest at one path: one 200, the rest 409`, async () => {
      const environmentId = app.env.production!.id;
      const digest = randomBytes(32).toString('hex');
      const responses = await Promise.all(
        Array.from({ length: CREATES }, (_, i) =>
          api.post('/service/secrets/', { secrets: [{ key: ciphertext('RACE'), value: ciphertext(`v${i}`), comment: '', keyDigest: digest, path: '/same' }] }, { environment: environmentId }),
        ),
      );
      assert.equal(responses.filter((r) => r.status === 200).length, 1, responses.map((r) => `${r.status} ${r.text}`).join(','));
      for (const res of responses.filter((r) => r.status !== 200)) assert.deepEqual({ status: res.status, body: res.body }, { status: 409, body: { error: 'Duplicate secret found' } });
      const listed = await api.get('/service/secrets/', { environment: environmentId, keydigest: digest });
      assert.equal(listed.status, 200, listed.text);
      assert.equal(listed.body.length, 1);
    });

    // rest-api §12.7: one active invite per address. On PostgreSQL concurrent creations all passed
    // the check before any had inserted (20 of 20 got an invite; a removed member could rejoin with a spare).
    it(`${CREATES} concurrent invites of one address: one 201, the rest 409`, async () => {
      const roles = await api.get('/v1/roles/');
      const developer = roles.body.data.find((r: any) => r.name === 'Developer').id;
      const email = `contended-${randomBytes(4).toString('hex')}@example.com`;
      const responses = await Promise.all(Array.from({ length: CREATES }, () => api.post('/v1/members/invites/', { email, role_id: developer })));
      assert.deepEqual(responses.map((res) => res.status).sort(), [201, ...Array<number>(CREATES - 1).fill(409)], responses.map((res) => res.text).join('\n'));
      for (const res of responses.filter((r) => r.status === 409)) assert.equal(res.body.error, `An active invite already exists for '${email}'.`);
      const listed = await api.get('/v1/members/invites/');
      assert.equal(listed.body.data.filter((i: any) => i.inviteeEmail === email).length, 1);
    });

    it(`${ENVIRONMENT_ROUNDS} rounds of ${ENVIRONMENT_CREATES} concurrent environment creates in one app: each gets its own next index`, async () => {
      for (let round = 0; round < ENVIRONMENT_ROUNDS; round++) {
        const fresh = await createApp(api, `indexes-${round}-${randomBytes(3).toString('hex')}`);
        const responses = await Promise.all(
          Array.from({ length: ENVIRONMENT_CREATES }, (_, i) => api.post(`/v1/environments/?app_id=${fresh.id}`, { name: `Extra${i}` })),
        );
        for (const res of responses) assert.equal(res.status, 201, res.text);
        // The three default environments hold 0..2; the new ones follow, once each.
        const expected = Array.from({ length: ENVIRONMENT_CREATES }, (_, i) => i + 3);
        assert.deepEqual(responses.map((res) => res.body.index as number).sort((a, b) => a - b), expected, `round ${round}`);
        const listed = await api.get(`/v1/environments/?app_id=${fresh.id}`);
        assert.equal(listed.status, 200, listed.text);
        assert.deepEqual(listed.body.data.map((e: any) => e.index), [0, 1, 2, ...expected], `round ${round}`);
      }
    });
  });
}
