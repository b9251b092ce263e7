// Values, keys, comments and override values round-trip exactly (rest-api §3.1, §5.1, §5.5) through
// POST, GET and PUT, on every store: unicode of every plane, combining marks, right-to-left text,
// newlines, `=`, quotes, backslashes, 64 KiB and empty strings.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from '../../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { STORE_TARGETS } from '../../helpers/stores.js';
import { createApp, listSecrets, postSecrets, secretsUrl, type CreatedApp } from '../../helpers/world.js';

/** 64 KiB of mixed text (one- to four-byte UTF-8), deterministic. */
function bigText(): string {
  const alphabet = 'abcXYZ019 =\'"\\\n\t\r{}$é߷中😀𝄞';
  const chars = [...alphabet];
  let out = '';
  let i = 0;
  while (Buffer.byteLength(out, 'utf8') < 64 * 1024) out += chars[(i++ * 7) % chars.length];
  return out;
}

const SAMPLES: Record<string, string> = {
  EMPTY: '',
  ASCII_PUNCT: ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ ',
  EQUALS: 'a=b==c=',
  QUOTES: `'single' "double" \`back\` ''' """`,
  BACKSLASHES: '\\ \\\\ \\n \\u0041 \\x00 C:\\path\\to\\file\\',
  NEWLINES: 'line1\nline2\r\nline3\rline4\n\n',
  TABS_AND_SPACES: '\t leading and trailing \t ',
  ASTRAL: '😀🎉𝄞𝕏🀄 \u{1F9D1}\u{200D}\u{1F4BB} \u{10FFFF}',
  COMBINING: 'e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937 Z\u0351\u0300\u0322',
  RTL: '\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202eabc\u202c \u200fend',
  CJK: '秘密の値 비밀 机密',
  CONTROL: '\u0001\u0002\u001f\u007f\u0080\u009f\u00a0\u2028\u2029\ufeff',
  JSONISH: '{"key": "value", "n": [1, 2, {"x": null}]}',
  DOLLAR_NOT_A_REFERENCE: '$ ${ {$} $}{ $$ ${{x}}',
  BIG: bigText(),
};

for (const target of STORE_TARGETS) {
  describe(`values round-trip exactly on ${target.kind}`, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let app: CreatedApp;
    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain);
      api = apiClient(server.url, owner.authorization);
      app = await createApp(api, 'Values');
    });
    after(() => server.close());

    it('values, comments and override values come back byte for byte through POST, GET and PUT', async () => {
      const names = Object.keys(SAMPLES);
      const created = await postSecrets(
        api,
        app.id,
        'development',
        names.map((name) => ({ key: name, value: SAMPLES[name], comment: SAMPLES[name], override: { value: SAMPLES[name]!, isActive: true } })),
      );
      for (const [i, name] of names.entries()) {
        assert.equal(created[i].value, SAMPLES[name], `POST value ${name}`);
        assert.equal(created[i].comment, SAMPLES[name], `POST comment ${name}`);
        assert.equal(created[i].override.value, SAMPLES[name], `POST override ${name}`);
      }
      const listed = new Map((await listSecrets(api, app.id, 'development')).map((s) => [s.key, s]));
      for (const name of names) {
        assert.equal(listed.get(name).value, SAMPLES[name], `GET value ${name}`);
        assert.equal(listed.get(name).comment, SAMPLES[name], `GET comment ${name}`);
        assert.equal(listed.get(name).override.value, SAMPLES[name], `GET override ${name}`);
      }
      // PUT writes each sample into another secret's fields
      const rotated = names.map((name, i) => ({ id: listed.get(name).id, value: SAMPLES[names[(i + 1) % names.length]!], comment: SAMPLES[names[(i + 2) % names.length]!] }));
      const updated = (await api.put(secretsUrl(app.id, 'development'), { secrets: rotated })).body;
      const reread = new Map((await listSecrets(api, app.id, 'development')).map((s) => [s.key, s]));
      for (const [i, name] of names.entries()) {
        assert.equal(updated[i].value, rotated[i]!.value, `PUT value ${name}`);
        assert.equal(reread.get(name).value, rotated[i]!.value, `GET after PUT value ${name}`);
        assert.equal(reread.get(name).comment, rotated[i]!.comment, `GET after PUT comment ${name}`);
      }
    });

    it('keys keep everything but case: unicode, spaces, punctuation', async () => {
      const keys: Array<[string, string]> = [
        ['ключ_ünïcode', 'КЛЮЧ_ÜNÏCODE'],
        ['straße', 'STRASSE'],
        ['ﬁle', 'FILE'],
        ['e\u0301', 'E\u0301'],
        ['😀_emoji', '😀_EMOJI'],
        [' a b ', ' A B '],
        ['a=b', 'A=B'],
        ['quote\'"\\', 'QUOTE\'"\\'],
        ['\u05e9\u05dc\u05d5\u05dd', '\u05e9\u05dc\u05d5\u05dd'],
      ];
      const created = await postSecrets(api, app.id, 'staging', keys.map(([key], i) => ({ key, value: `${i}` })));
      assert.deepEqual(created.map((c) => c.key), keys.map(([, stored]) => stored));
      const listed = await listSecrets(api, app.id, 'staging');
      assert.deepEqual(listed.map((s) => s.key).sort(), keys.map(([, stored]) => stored).sort());
      for (const [key, stored] of keys) {
        const found = await listSecrets(api, app.id, 'staging', `&key=${encodeURIComponent(key)}`);
        assert.deepEqual(found.map((s) => s.key), [stored], key);
      }
    });
  });
}
