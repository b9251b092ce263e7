// The bytes an audit MAC covers must never change: trails written by earlier versions have to verify.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes, randomUUID } from 'node:crypto';
import sodium from 'sodium-native';
import { auditMac, masterKeyring } from '../../src/crypto/index.js';
import { auditKeyContext, EventChainer, macMessage, stableStringify } from '../../src/domain/audit.js';
import type { EventInsert } from '../../src/store/events.js';

describe('audit MAC message', () => {
  it('writes objects with sorted keys at every level, drops undefined members and keeps arrays in order', () => {
    const value = { b: 1, a: { d: [3, { z: null, y: 'x' }], c: undefined }, 'é': '"q"', A: true };
    assert.equal(stableStringify(value), '{"A":true,"a":{"d":[3,{"y":"x","z":null}]},"b":1,"é":"\\"q\\""}');
    assert.equal(stableStringify([undefined, null, 'x']), '[null,null,"x"]');
    assert.equal(stableStringify(undefined), 'null');
  });

  it('writes the same JSON whether or not keys are already in order, as the copying serializer of earlier versions did', () => {
    // The earlier definition: a sorted copy of every object (a Date or Map has no own keys: {}), then JSON.stringify.
    const copySorted = (value: unknown): unknown => {
      if (value === null || typeof value !== 'object') return value;
      if (Array.isArray(value)) return value.map(copySorted);
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value).sort()) out[key] = copySorted((value as Record<string, unknown>)[key]);
      return out;
    };
    const inOrder = { comment: '', folder: null, key: 'ph:v1:k', keyDigest: 'd', path: '/', tags: ['b', 'a'], type: 'secret', value: 'ph:v1:v', version: 2 };
    const values: unknown[] = [
      inOrder,
      { ...inOrder, nested: { a: [{ y: 1, x: 2 }], b: undefined } },
      { a: 1, b: { d: 1, c: 2 } },
      { 10: 'ten', 9: 'nine', b: 'b', A: 'A', _: '_' },
      { at: new Date(0), map: new Map([['k', 'v']]), list: [undefined, new Date(1), { z: 0, a: 1 }] },
      Object.assign(Object.create(null) as object, { b: 2, a: 1 }),
      [[{ b: 1, a: 2 }], 'x', 3, null],
    ];
    for (const value of values) assert.equal(stableStringify(value), JSON.stringify(copySorted(value)) ?? 'null', JSON.stringify(value));
    // Written in order, a write event's snapshot is not copied: the same tags array reaches JSON.stringify.
    assert.equal(stableStringify(inOrder), JSON.stringify(inOrder));
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

  it('writes every member as JSON.stringify does: escapes, control and non-ASCII characters, lone surrogates, nulls, numbers', () => {
    // The definition the hand-written serializer must keep to, byte for byte (trails already written verify against it).
    const reference = (e: Omit<EventInsert, 'mac' | 'snapshot'>, snapshot: unknown) =>
      JSON.stringify([
        'coffer-audit-v1', e.organisation_id, e.seq, e.id, e.kind, e.action, e.app_id, e.environment_id, e.environment_revision,
        e.secret_id, e.secret_ids, e.resource_id, JSON.parse(stableStringify(snapshot)), e.description, e.actor_member_id,
        e.actor_service_account_id, e.actor_token_id, e.ip, e.user_agent, e.created_at.toISOString(), e.prev_mac,
      ]);
    const awkward = ['', 'plain', '"quoted"', 'back\\slash', 'tab\there', 'nl\n\r', '\u0000\u001f\u007f', 'ünïcødé 🔑', '\u2028\u2029', 'x\ud800y', '\udfff', '</script>', '~ !#$%&\'()*+,-./:;<=>?@[]^_`{|}'];
    let seq = 0;
    for (const text of awkward) {
      const event = {
        organisation_id: randomUUID(), seq: ++seq * 2 ** 40, id: randomUUID(), kind: 'audit' as const, action: text, app_id: text, environment_id: null,
        environment_revision: seq % 2 === 0 ? null : seq, secret_id: text, secret_ids: seq % 3 === 0 ? null : [text, randomUUID(), ''], resource_id: text,
        description: text, actor_member_id: null, actor_service_account_id: text, actor_token_id: randomUUID(), ip: text, user_agent: text,
        created_at: new Date(Date.UTC(2026, 0, seq, 3, 4, 5, seq)), prev_mac: text,
      };
      for (const snapshot of [null, { note: text, n: [seq, null] }]) assert.equal(macMessage(event, snapshot), reference(event, snapshot), JSON.stringify(text));
    }
    // Missing optional members are written as null, as JSON.stringify writes undefined array members.
    const sparse = { organisation_id: 'o', seq: 1, id: 'i', kind: 'secret', action: 'read', created_at: new Date(0), prev_mac: 'p' } as unknown as Omit<EventInsert, 'mac' | 'snapshot'>;
    assert.equal(macMessage(sparse, undefined), reference(sparse, undefined));
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
