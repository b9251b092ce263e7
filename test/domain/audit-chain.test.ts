// The bytes an audit MAC covers must never change: trails written by earlier versions have to verify.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { macMessage, stableStringify } from '../../src/domain/audit.js';

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
});
