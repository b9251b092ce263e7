// The CLI explains, in one line and without a stack trace, a damaged stored login and servers that
// answer the wrong thing, stall or never answer (COFFER_TIMEOUT); those last count as unreachable.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authorizationHeaderOf } from '../../src/crypto/index.js';
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

/** Forwards every request to `target`, except those `misbehave` answers itself (it returns true then). */
async function proxyTo(target: string, misbehave: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<{ url: string; close(): Promise<void> }> {
  return fakeServer((req, res) => {
    if (misbehave(req, res)) return;
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
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

  it('logout that cannot revoke names the token and how to revoke it (the login it came from is gone)', async () => {
    const down = await fakeServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error": "down"}'));
    servers.push(down);
    await fs.mkdir(path.dirname(user.credentialsFile), { recursive: true });
    await fs.writeFile(user.credentialsFile, JSON.stringify({ url: down.url, token: d.setup.token, tokenId: 'tok-0b7c1a52', email: 'a@example.com', userId: 'u', organisationId: 'o', organisationName: 'Acme' }));
    const out = await user.run(['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(`${out.stdout}${out.stderr}`, /Could not revoke the token on .*Revoke token tok-0b7c1a52 later: sign in again and run `coffer tokens revoke tok-0b7c1a52`, or use the console\./);
    await assert.rejects(fs.access(user.credentialsFile), 'the login is forgotten');
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

  it('the E2EE path (client protocol) keeps COFFER_TIMEOUT and tells stalls and answers of the wrong shape in one line', { timeout: 120_000 }, async () => {
    await d.owner.json(['apps', 'create', 'vault', '--e2ee']);
    await d.owner.json(['secrets', 'set', 'VAULT_KEY=vault-value', '--app', 'vault', '--env', 'development']);
    let misbehave: (req: http.IncomingMessage, res: http.ServerResponse) => boolean = () => false;
    const proxy = await proxyTo(d.server.url, (req, res) => misbehave(req, res));
    servers.push(proxy);
    await store(proxy.url, d.setup.token);
    const list = ['secrets', 'list', '--app', 'vault', '--env', 'development'];
    const run = ['run', '--app', 'vault', '--env', 'development', '--', process.execPath, '-e', 'console.log(process.env.VAULT_KEY)'];
    const through = await user.run(run);
    assert.equal(through.code, 0, through.stderr);
    assert.equal(through.stdout, 'vault-value', 'the proxy itself passes the protocol through');

    const at = (path: string, answer: (res: http.ServerResponse) => void) => (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (new URL(req.url!, 'http://x').pathname !== path) return false;
      answer(res);
      return true;
    };
    const stalls = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('[');
    };
    const json = (body: unknown) => (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const timedOut = new RegExp(`^coffer: cannot reach ${proxy.url}: no complete answer within 1 s$`);
    for (const path of ['/service/secrets/tokens/', '/service/secrets/']) {
      for (const [answer, expected] of [
        [stalls, timedOut],
        [() => {}, timedOut],
        [json(path.endsWith('tokens/') ? { wrapped_key_share: '00', apps: [{ id: 'x' }] } : [{ id: 1 }]), new RegExp(`^coffer: the server at ${proxy.url} answered something that is not a Coffer/Phase API response \\(${path}\\)$`)],
      ] as const) {
        misbehave = at(path, answer);
        for (const args of [list, run]) {
          const result = await user.run(args, { env: { COFFER_TIMEOUT: '1' } });
          oneLineError(result, expected);
          assert.equal(result.stdout, '', `${args[0]} at ${path}: nothing ran`);
        }
      }
    }
    // A stored value that is not a ciphertext of the environment.
    misbehave = at('/service/secrets/', json([{ id: 'a', key: 'ph:v1:00:00', value: 'ph:v1:00:00', path: '/', tags: [] }]));
    for (const args of [list, run]) {
      oneLineError(await user.run(args), /^coffer: a secret of vault \/ Development that the server returned does not decrypt: /);
    }
  });

  it('apps create --e2ee and apps enable-sse tell a recipients/ or server-key/ answer of the wrong shape in one line and change nothing', { timeout: 120_000 }, async () => {
    const sealed = await d.owner.json(['apps', 'create', 'sealed', '--e2ee']);
    assert.equal(sealed.encryption, 'e2ee');
    let misbehave: (req: http.IncomingMessage, res: http.ServerResponse) => boolean = () => false;
    const proxy = await proxyTo(d.server.url, (req, res) => misbehave(req, res));
    servers.push(proxy);
    await store(proxy.url, d.setup.token);
    // Straight from the server (not through another CLI run: this test already starts the CLI about 40 times).
    const appNames = async () => {
      const listed = await fetch(`${d.server.url}/v1/apps/`, { headers: { authorization: authorizationHeaderOf(d.setup.token) } });
      assert.equal(listed.status, 200);
      return ((await listed.json()) as { data: Array<{ name: string; sseEnabled: boolean }> }).data.map((a) => [a.name, a.sseEnabled ? 'sse' : 'e2ee']).sort();
    };
    const apps = await appNames();
    assert.ok(apps.some(([name, encryption]: string[]) => name === 'sealed' && encryption === 'e2ee'), JSON.stringify(apps));

    const answers = (path: string, body: unknown) => (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (new URL(req.url!, 'http://x').pathname !== path) return false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return true;
    };
    const notCoffer = (path: string) => new RegExp(`^coffer: the server at ${proxy.url} answered something that is not a Coffer/Phase API response \\(${path}\\)$`);
    const refused = (result: Run, path: string, what: string) => {
      oneLineError(result, notCoffer(path));
      assert.equal(result.stderr.split('\n').filter((line) => line.startsWith('coffer:')).length, 1, `${what}: one coffer: line: ${result.stderr}`);
      assert.doesNotMatch(result.stdout, /Created|is on for/, `${what}: no success told`);
    };

    const recipient = { type: 'member', id: d.setup.userId, identityKey: 'ab'.repeat(32), kxPublicKey: 'cd'.repeat(32), required: true };
    const { identityKey: _identityKey, ...withoutIdentityKey } = recipient;
    // The last two are of the right JSON shape, but their identity keys are no keys (not a curve point, not hex).
    const wrongKeys = [{ recipients: [recipient] }, { recipients: [{ ...recipient, identityKey: 'zz' }] }];
    // The server's own answer, with usable keys: without `required`, or with no one required, the
    // CLI would wrap the new environments to no one (an app nobody can open).
    const real = await fetch(`${d.server.url}/coffer/v1/recipients/`, { headers: { authorization: authorizationHeaderOf(d.setup.token) } });
    assert.equal(real.status, 200);
    const owner = ((await real.json()) as { recipients: Array<Record<string, unknown>> }).recipients[0]!;
    assert.equal(owner.required, true);
    const { required: _required, ...notSayingWhoIsRequired } = owner;
    const unusable = [{ recipients: [notSayingWhoIsRequired] }, { recipients: [{ ...owner, required: 'yes' }] }, { recipients: [{ ...owner, required: false }] }, { recipients: [{ ...owner, type: 'robot' }] }];
    for (const body of [{ recipients: 'x' }, { recipients: [withoutIdentityKey] }, { recipients: [{ ...recipient, id: 7 }] }, [recipient], null, ...wrongKeys, ...unusable]) {
      misbehave = answers('/coffer/v1/recipients/', body);
      refused(await user.run(['apps', 'create', 'refused', '--e2ee']), '/coffer/v1/recipients/', `recipients ${JSON.stringify(body)}`);
      assert.deepEqual(await appNames(), apps, `recipients ${JSON.stringify(body)}: no app was created`);
    }

    for (const body of [{}, { publicKey: 1 }, { publicKey: ['ab'] }, 'ab', [], { publicKey: 'ab' }, { publicKey: 'zz'.repeat(32) }]) {
      misbehave = answers('/coffer/v1/server-key/', body);
      refused(await user.run(['apps', 'enable-sse', 'sealed', '--yes']), '/coffer/v1/server-key/', `server-key ${JSON.stringify(body)}`);
      assert.deepEqual(await appNames(), apps, `server-key ${JSON.stringify(body)}: sealed is still end-to-end encrypted`);
    }

    // The proxy passes the protocol through: the same commands succeed once it stops rewriting.
    misbehave = () => false;
    const created = await user.run(['apps', 'create', 'through', '--e2ee', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const enabled = await user.run(['apps', 'enable-sse', 'sealed', '--yes', '--json']);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.deepEqual(await appNames(), [...apps.filter(([name]: string[]) => name !== 'sealed'), ['sealed', 'sse'], ['through', 'e2ee']].sort());
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
