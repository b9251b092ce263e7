// The embedded server's admin socket: an operation's refusal is a 400 with its hint, and an answer
// that cannot be serialized is a 500 (a backup of a large store used to throw inside the reply and
// take the whole server down with an unhandled rejection).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AdminRefusal, callAdminSocket, startAdminSocket, type AdminSocket } from '../../src/admin-socket.js';

describe('admin socket', () => {
  let dir: string;
  let socket: AdminSocket;
  const errors: unknown[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-admin-socket-'));
    socket = await startAdminSocket(
      path.join(dir, 'admin.sock'),
      {
        ping: async () => ({ ok: true }),
        refuse: async () => {
          throw new AdminRefusal('could not write /nowhere/x: its directory does not exist', 'choose a directory that exists');
        },
        // What a string past V8's limit does to JSON.stringify, without building one.
        unsendable: async () => ({ toJSON: () => { throw new RangeError('Invalid string length'); } }),
      },
      (error) => errors.push(error),
    );
  });
  after(async () => {
    await socket.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers a refusal with 400, its message and its hint, and logs nothing', async () => {
    const answer = await callAdminSocket(socket.path, 'refuse');
    assert.deepEqual(answer, { status: 400, body: { error: 'could not write /nowhere/x: its directory does not exist', hint: 'choose a directory that exists' } });
    assert.deepEqual(errors, []);
  });

  it('answers 500 for an answer that cannot be sent, and keeps serving', async () => {
    const answer = await callAdminSocket(socket.path, 'unsendable');
    assert.deepEqual(answer, { status: 500, body: { error: 'the answer could not be sent (Invalid string length)' } });
    assert.equal(errors.length, 1);
    assert.deepEqual(await callAdminSocket(socket.path, 'ping'), { status: 200, body: { ok: true } });
  });
});
