// The CLI explains, in one line and without a stack trace, a damaged stored login and servers that
// answer the wrong thing, stall or never answer (COFFER_TIMEOUT); those last count as unreachable.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDeployment, type Deployment } from './fixture.js';
import { cliUser, type CliUser, type Run } from './run.js';

function oneLineError(result: Run, message: RegExp): void {
  assert.equal(result.code, 1, `exit code: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /^\s+at /m, `a stack trace: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /unexpected error/);
  assert.match(result.stderr.split('\n')[0]!, message);
}

async function fakeServer(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('stored logins and servers the CLI cannot use', { timeout: 300_000 }, () => {
  let d: Deployment;
  let user: CliUser;
  const servers: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    d = await startDeployment('pglite');
    user = await cliUser('odd');
  });
  after(async () => {
    for (const s of servers) await s.close();
    await user.remove();
    await d.close();
  });

  const store = async (url: string, token: string) => {
    await fs.mkdir(path.dirname(user.credentialsFile), { recursive: true });
    await fs.writeFile(user.credentialsFile, JSON.stringify({ url, token, tokenId: null, email: 'a@example.com', userId: 'u', organisationId: 'o', organisationName: 'Acme' }));
  };

  it('a malformed stored token: whoami and tokens list say to log in again; logout forgets the login without pretending to revoke', async () => {
    await store(d.server.url, 'garbage');
    for (const args of [['whoami'], ['tokens', 'list'], ['apps', 'list']]) {
      const result = await user.run(args);
      oneLineError(result, /^coffer: the stored login \(.*credentials\.json\) does not hold a valid personal access token$|not a Coffer token/);
      assert.match(result.stderr, /coffer login/, args.join(' '));
    }
    const out = await user.run(['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(`${out.stdout}${out.stderr}`, /Could not revoke/);
    assert.match(out.stdout, /held no valid token, so nothing was revoked/);
    await assert.rejects(fs.access(user.credentialsFile), 'the damaged file is gone');
  });

  it('a server that answers JSON of another shape ([]) is named as not a Coffer/Phase server', async () => {
    const odd = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    servers.push(odd);
    await store(odd.url, d.setup.token);
    for (const args of [['whoami'], ['tokens', 'list'], ['apps', 'list'], ['secrets', 'list', '--app', 'shop', '--env', 'dev'], ['envs', 'list', '--app', 'shop']]) {
      oneLineError(await user.run(args), new RegExp(`^coffer: the server at ${odd.url} answered something that is not a Coffer/Phase API response`));
    }
  });

  it('a server that stalls after the headers, or never answers, is unreachable after COFFER_TIMEOUT', async () => {
    const stalls = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"user":');
    });
    const silent = await fakeServer(() => {});
    servers.push(stalls, silent);
    for (const server of [stalls, silent]) {
      await store(server.url, d.setup.token);
      const started = Date.now();
      const result = await user.run(['whoami'], { env: { COFFER_TIMEOUT: '1' } });
      oneLineError(result, new RegExp(`^coffer: cannot reach ${server.url}: no complete answer within 1 s$`));
      assert.ok(Date.now() - started < 20_000, 'the timeout applied');
    }
    const bad = await user.run(['whoami'], { env: { COFFER_TIMEOUT: 'soon' } });
    oneLineError(bad, /^coffer: COFFER_TIMEOUT must be a positive number of seconds/);
  });

  it('a server that breaks the connection half-way through the body is unreachable, not a crash', async () => {
    const breaks = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"user":', () => setTimeout(() => res.socket?.destroy(), 50));
    });
    servers.push(breaks);
    await store(breaks.url, d.setup.token);
    oneLineError(await user.run(['whoami']), new RegExp(`^coffer: cannot reach ${breaks.url}: `));
  });

  it('an https:// URL at a plain-HTTP server says the server does not speak TLS', async () => {
    const plain = await fakeServer((_req, res) => res.end('{}'));
    servers.push(plain);
    const url = plain.url.replace('http:', 'https:');
    await store(url, d.setup.token);
    const result = await user.run(['whoami']);
    oneLineError(result, new RegExp(`^coffer: cannot reach ${url}: the server does not speak TLS \\(HTTPS\\)$`));
    assert.match(result.stderr, /use an http:\/\/ URL/);
  });
});
