// The bytes an audit MAC covers must never change: trails written by earlier versions have to verify.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes, randomUUID } from 'node:crypto';
import sodium from 'sodium-native';
import { auditMac, masterKeyring } from '../../src/crypto/index.js';
import { auditKeyContext, EventChainer, macMessage, stableStringify } from '../../src/domain/audit.js';

describe('audit MAC message', () => {
  it('writes objects with sorted keys at every level, drops undefined members and keeps arrays in order', () => {
    const value = { b: 1, a: { d: [3, { z: null, y: 'x' }], c: undefined }, 'é': '"q"', A: true };
    assert.equal(stableStringify(value), '{"A":true,"a":{"d":[3,{"y":"x","z":null}]},"b":1,"é":"\\"q\\""}');
    assert.equal(stableStringify([undefined, null, 'x']), '[null,null,"x"]');
    assert.equal(stableStringify(undefined), 'null');
  });

  it('covers every column of the event in a fixed order, the snapshot as parsed JSON', () => {
    const message = macMessage({
      organisation_id: 'o', seq: 7, id: 'i', kind: 'secret', action: 'read', app_id: 'a', environment_id: 'e',
      environment_revision: 3, secret_id: null, secret_ids: ['s1', 's2'], resource_id: null,
      description: null, actor_member_id: 'm', actor_service_account_id: null,
      actor_token_id: 't', ip: '127.0.0.1', user_agent: 'ua', created_at: new Date('2026-01-02T03:04:05.678Z'), prev_mac: 'p',
    }, { selection: 'filtered', count: 2 });
    assert.equal(
      message,
      '["coffer-audit-v1","o",7,"i","secret","read","a","e",3,null,["s1","s2"],null,{"count":2,"selection":"filtered"},null,"m",null,"t","127.0.0.1","ua","2026-01-02T03:04:05.678Z","p"]',
    );
  });

  it('stores each snapshot as the JSON its MAC covers, so verification recomputes the same MAC from the stored row', async () => {
    const keyring = masterKeyring({ active: randomBytes(32) });
    const chainer = new EventChainer(keyring);
    const organisationId = randomUUID();
    const head = chainer.newChain(organisationId);
    await chainer.loadKey(head);
    const snapshot = { value: 'ph:v1:ab:cd', key: 'ph:v1:ef:01', tags: ['b', 'a'], nested: { z: 1, y: [{ d: null, c: 'é"\\' }] } };
    const { rows } = chainer.chain(
      [
        { organisationId, actor: null, event: { kind: 'secret', action: 'create', snapshot } },
        { organisationId, actor: null, event: { kind: 'secret', action: 'read' } },
      ],
      new Map([[organisationId, { seq: head.seq, mac: head.mac }]]),
    );
    assert.equal(rows[0]!.snapshot, stableStringify(snapshot));
    assert.equal(rows[1]!.snapshot, null);
    const key = await keyring.open(head.wrapped_key, 'audit-key', auditKeyContext(organisationId));
    for (const row of rows) {
      const stored = row.snapshot === null ? null : JSON.parse(row.snapshot);
      assert.equal(row.mac, auditMac(key, macMessage(row, stored)));
    }
    assert.equal(rows[1]!.prev_mac, rows[0]!.mac);
  });

  it('MACs a text message as keyed BLAKE2b-256 of its UTF-8 bytes, whatever the messages before it', () => {
    const key = randomBytes(32);
    const reference = (text: string) => {
      const out = Buffer.alloc(32);
      sodium.crypto_generichash(out, Buffer.from(text, 'utf8'), key);
      return out.toString('hex');
    };
    // Long (the encoding buffer grows), then short (what is left of the long one must not count),
    // multi-byte characters and a lone surrogate (encoded as U+FFFD, as Buffer.from does).
    const messages = ['€'.repeat(5000), 'a', '', 'ünïcødé "quoted" \\ 🔑', 'x\ud800y', JSON.stringify({ long: 'z'.repeat(20_000) })];
    for (const message of messages) {
      assert.equal(auditMac(key, message), reference(message));
      assert.equal(auditMac(key, new TextEncoder().encode(message)), reference(message));
    }
  });
});
