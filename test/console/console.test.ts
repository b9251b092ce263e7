// The web console in a real Chromium against a real server: signing in derives every key in the
// page (the password is never sent), secrets of SSE and E2EE apps are decrypted and written there
// in the format the CLI and SDKs read, and signing out revokes the page's token and session.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PhaseSession } from '../../src/client/index.js';
import { PHASE_KDF_MODERATE } from '../../src/crypto/index.js';
import { addMemberWithToken, createE2eeApp, createSseApp, type AppFixture } from '../client-protocol/helpers.js';
import { launchChromium } from '../helpers/browser.js';
import { apiClient, createOwner, ownerLoginHash, TEST_PASSWORD, type ApiClient, type OwnerFixture } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { STORE_TARGETS } from '../helpers/stores.js';

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** A page in a browser context of its own (no cookies shared with other tests), closed afterwards. */
async function inNewPage(run: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    await run(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

for (const target of STORE_TARGETS) {
  describe(`web console (${target.kind})`, { timeout: 180_000 }, () => {
    let server: TestServer;
    let owner: OwnerFixture;
    let api: ApiClient;
    let shop: AppFixture;
    let vault: AppFixture;

    before(async () => {
      server = await startTestServer({ store: target.kind });
      owner = await createOwner(server.domain, { name: `Console ${target.kind}` });
      // The console derives the login hash with Phase's parameters, as the CLI does for real accounts.
      await ownerLoginHash(server.domain, owner, TEST_PASSWORD, PHASE_KDF_MODERATE);
      api = apiClient(server.url, owner.authorization);
      shop = await createSseApp(server, owner, 'shop');
      vault = await createE2eeApp(server, owner.token, 'vault');
      await withSession((session) => session.create(session.environment(shop.id, 'Development'), [{ key: 'DB_URL', value: 'postgres://db.internal/shop', comment: 'primary' }]));
    });
    after(() => server?.close());

    async function withSession<T>(run: (session: PhaseSession) => Promise<T>): Promise<T> {
      const session = await PhaseSession.open({ host: server.url, token: owner.token });
      try {
        return await run(session);
      } finally {
        session.close();
      }
    }

    /** What the CLI and SDKs read from an environment, by key. */
    const readBack = (app: AppFixture, env: string) =>
      withSession(async (session) => new Map((await session.list(session.environment(app.id, env), { resolveReferences: false })).map((s) => [s.key, s])));

    const consoleTokens = async () => ((await api.get('/coffer/v1/tokens/')).body.data as Array<{ name: string }>).filter((t) => t.name.startsWith('console '));

    /** Every body the page sent, to show the password never leaves it. */
    function recordBodies(page: Page): string[] {
      const bodies: string[] = [];
      page.on('request', (request) => bodies.push(`${request.url()} ${request.postData() ?? ''} ${JSON.stringify(request.headers())}`));
      return bodies;
    }

    async function signIn(page: Page, password = TEST_PASSWORD) {
      await page.goto(`${server.url}/console/`);
      await page.getByLabel('E-mail').fill(owner.email.toUpperCase());
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }

    const rowOf = (page: Page, key: string) => page.locator(`tr[data-key="${key}"]`);

    async function signOut(page: Page) {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    }

    test('sign in, read an SSE app, write an E2EE app the CLI reads, sign out', async () => {
      await inNewPage(async (page) => {
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        const sent = recordBodies(page);
        const workers: string[] = [];
        page.on('worker', (worker) => workers.push(worker.url()));
        await signIn(page);
        const apps = page.getByRole('navigation', { name: 'Apps' });
        await apps.getByRole('button', { name: /shop/ }).waitFor();
        assert.match(await apps.innerText(), /shop\s*SSE[\s\S]*vault\s*E2EE/);
        assert.equal((await consoleTokens()).length, 1, 'signing in registers one token for the page');

        // Read: decrypted in the page, the value hidden until asked for.
        await page.getByRole('button', { name: /shop/ }).click();
        const dbUrl = rowOf(page, 'DB_URL');
        await dbUrl.waitFor();
        assert.equal(await dbUrl.locator('code').count(), 0, 'values start hidden');
        assert.match(await dbUrl.innerText(), /primary/);
        await dbUrl.getByRole('button', { name: 'Show' }).click();
        assert.equal(await dbUrl.locator('code').innerText(), 'postgres://db.internal/shop');

        // Write to the E2EE app: encrypted in the page, opened by the CLI's client.
        await page.getByRole('button', { name: /vault/ }).click();
        await page.getByRole('tab', { name: 'Staging' }).click();
        await page.getByText('No secrets in Staging yet.').waitFor();
        await page.getByRole('button', { name: 'Add secret' }).click();
        const form = page.getByRole('form', { name: 'New secret' });
        await form.getByLabel('Key').fill('api_key');
        await form.getByLabel('Value').fill('sk-live-41f0 ${DB_HOST}');
        await form.getByLabel('Comment').fill('billing provider');
        await form.getByRole('button', { name: 'Save' }).click();
        await rowOf(page, 'API_KEY').waitFor();
        let stored = await readBack(vault, 'Staging');
        assert.equal(stored.get('API_KEY')?.value, 'sk-live-41f0 ${DB_HOST}');
        assert.equal(stored.get('API_KEY')?.comment, 'billing provider');

        // Edit in place.
        await rowOf(page, 'API_KEY').getByRole('button', { name: 'Edit' }).click();
        const edit = page.getByRole('form', { name: 'Edit API_KEY' });
        await edit.getByLabel('Value').fill('sk-live-rotated');
        await edit.getByRole('button', { name: 'Save' }).click();
        await rowOf(page, 'API_KEY').getByRole('button', { name: 'Show' }).click();
        await rowOf(page, 'API_KEY').locator('code', { hasText: 'sk-live-rotated' }).waitFor();
        stored = await readBack(vault, 'Staging');
        assert.equal(stored.get('API_KEY')?.value, 'sk-live-rotated');
        assert.equal(stored.get('API_KEY')?.version, 2);

        // Delete asks once more before it deletes.
        await rowOf(page, 'API_KEY').getByRole('button', { name: 'Delete' }).click();
        assert.equal((await readBack(vault, 'Staging')).size, 1, 'the first click only asks');
        await rowOf(page, 'API_KEY').getByRole('button', { name: 'Confirm delete' }).click();
        await page.getByText('No secrets in Staging yet.').waitFor();
        assert.equal((await readBack(vault, 'Staging')).size, 0);

        // Sign out: the page's token is revoked and its session ends.
        await signOut(page);
        assert.deepEqual(await consoleTokens(), []);
        const me = await page.request.get(`${server.url}/coffer/v1/me/`);
        assert.equal(me.status(), 401);

        assert.deepEqual(errors, []);
        // Argon2id runs off the page's thread, which keeps painting while it derives.
        assert.equal(workers.filter((url) => /\/console\/assets\/kdf-worker-[\w-]+\.js$/.test(url)).length, 1, workers.join(', '));
        assert.ok(sent.some((line) => line.includes('/coffer/v1/auth/login/')));
        for (const line of sent) assert.ok(!line.includes(TEST_PASSWORD), `the password was sent: ${line.slice(0, 120)}`);
        for (const line of sent) assert.ok(!line.includes('sk-live'), `a value left the page in plaintext: ${line.slice(0, 120)}`);
      });
    });

    test('creates an SSE app (its secret then readable over REST) and an end-to-end encrypted app', async () => {
      await inNewPage(async (page) => {
        await signIn(page);
        const nav = page.getByRole('navigation', { name: 'Apps' });
        await nav.getByRole('button', { name: /shop/ }).waitFor();

        await nav.getByRole('button', { name: '+ New app' }).click();
        let form = page.getByRole('form', { name: 'New app' });
        await form.getByLabel('Name').fill('billing');
        await form.getByRole('button', { name: 'Create app' }).click();
        await page.getByRole('heading', { name: 'billing' }).waitFor();
        assert.match(await nav.innerText(), /billing\s*SSE/);
        assert.deepEqual(await page.getByRole('tab').allInnerTexts(), ['Development', 'Staging', 'Production']);
        await page.getByRole('button', { name: 'Add secret' }).click();
        const secret = page.getByRole('form', { name: 'New secret' });
        await secret.getByLabel('Key').fill('STRIPE_KEY');
        await secret.getByLabel('Value').fill('sk_test_console');
        await secret.getByRole('button', { name: 'Save' }).click();
        await rowOf(page, 'STRIPE_KEY').waitFor();
        const billing = ((await api.get('/v1/apps/')).body.data as Array<{ id: string; name: string }>).find((a) => a.name === 'billing');
        assert.ok(billing);
        const listed = await api.get(`/v1/secrets/?app_id=${billing.id}&env=development&key=STRIPE_KEY`);
        assert.equal(listed.status, 200, listed.text);
        assert.equal(listed.body[0]?.value, 'sk_test_console');

        await nav.getByRole('button', { name: '+ New app' }).click();
        form = page.getByRole('form', { name: 'New app' });
        await form.getByLabel('Name').fill('ledger');
        await form.getByLabel('End-to-end encrypted').check();
        await form.getByRole('button', { name: 'Create app' }).click();
        await page.getByRole('heading', { name: 'ledger' }).waitFor();
        assert.match(await nav.innerText(), /ledger\s*E2EE/);
        const ledger = ((await api.get('/v1/apps/')).body.data as Array<{ id: string; name: string }>).find((a) => a.name === 'ledger');
        assert.ok(ledger);
        const refused = await api.post(`/v1/secrets/?app_id=${ledger.id}&env=development`, { secrets: [{ key: 'X', value: 'y' }] });
        assert.equal(refused.status, 400, 'the server cannot write to an app it holds no keys for');
        // The CLI's client opens the keys the page wrapped.
        await withSession(async (session) => assert.equal(session.app(ledger.id).environments.length, 3));
        await signOut(page);
      });
    });

    test('two tabs of one browser: each sign-out revokes its own token, whatever the shared cookie holds', async () => {
      const context = await browser.newContext();
      try {
        const first = await context.newPage();
        const second = await context.newPage();
        const before = (await consoleTokens()).length;
        for (const page of [first, second]) {
          await signIn(page);
          await page.getByRole('button', { name: 'Sign out' }).waitFor();
        }
        assert.equal((await consoleTokens()).length, before + 2);
        // The second sign-in replaced the cookie (and CSRF token) the first tab started with.
        await first.getByRole('button', { name: 'Sign out' }).click();
        await first.getByRole('button', { name: 'Sign in' }).waitFor();
        assert.equal(await first.getByRole('status').count(), 0, 'no failure to report');
        assert.equal((await consoleTokens()).length, before + 1);
        await second.getByRole('button', { name: 'Sign out' }).click();
        await second.getByRole('button', { name: 'Sign in' }).waitFor();
        assert.equal((await consoleTokens()).length, before);
      } finally {
        await context.close();
      }
    });

    test('a token revoked elsewhere sends the tab back to sign-in, saying why', async () => {
      await inNewPage(async (page) => {
        const before = new Set(((await api.get('/coffer/v1/tokens/')).body.data as Array<{ id: string }>).map((t) => t.id));
        await signIn(page);
        await page.getByRole('button', { name: /shop/ }).click();
        await rowOf(page, 'DB_URL').waitFor();
        const tab = ((await api.get('/coffer/v1/tokens/')).body.data as Array<{ id: string; name: string }>).find((t) => !before.has(t.id));
        assert.match(tab?.name ?? '', /^console \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
        assert.equal((await api.delete(`/coffer/v1/tokens/${tab!.id}/`)).status, 204);
        await page.getByRole('tab', { name: 'Staging' }).click();
        await page.getByRole('button', { name: 'Sign in' }).waitFor();
        assert.match(await page.getByRole('status').innerText(), /access has ended.*Sign in again/);
      });
    });

    test('a sealed value is never shown nor changed; a nameless secret is refused in the page', async () => {
      await withSession((session) => session.create(session.environment(shop.id, 'Staging'), [{ key: 'SIGNING_KEY', value: 'sealed-value-7f3e', type: 'sealed' }]));
      await inNewPage(async (page) => {
        const sent = recordBodies(page);
        await signIn(page);
        await page.getByRole('button', { name: /shop/ }).click();
        await page.getByRole('tab', { name: 'Staging' }).click();
        const row = rowOf(page, 'SIGNING_KEY');
        await row.waitFor();
        assert.match(await row.innerText(), /sealed/);
        assert.equal(await row.getByRole('button', { name: 'Show' }).count(), 0);
        assert.ok(!(await page.content()).includes('sealed-value-7f3e'));

        await row.getByRole('button', { name: 'Edit' }).click();
        const edit = page.getByRole('form', { name: 'Edit SIGNING_KEY' });
        assert.equal(await edit.getByLabel('Value').count(), 0, 'no value field for a sealed secret');
        await edit.getByLabel('Comment').fill('rotated quarterly');
        await edit.getByRole('button', { name: 'Save' }).click();
        await row.getByText('rotated quarterly').waitFor();
        const stored = (await readBack(shop, 'Staging')).get('SIGNING_KEY');
        assert.equal(stored?.value, 'sealed-value-7f3e');
        assert.equal(stored?.comment, 'rotated quarterly');

        const countBefore = (await readBack(shop, 'Staging')).size;
        await page.getByRole('button', { name: 'Add secret' }).click();
        const form = page.getByRole('form', { name: 'New secret' });
        await form.getByLabel('Key').fill('   ');
        await form.getByLabel('Value').fill('x');
        await form.getByRole('button', { name: 'Save' }).click();
        assert.match(await page.getByRole('alert').innerText(), /needs a name/);
        assert.equal((await readBack(shop, 'Staging')).size, countBefore);
        assert.ok(!sent.some((line) => line.includes('sealed-value-7f3e')));
        await signOut(page);
      });
    });

    test('an address with a non-ASCII domain signs in as it was typed', async () => {
      const idn = await createOwner(server.domain, { name: 'Ünicode', email: `idn-${randomUUID().slice(0, 8)}@exämple.io` });
      await ownerLoginHash(server.domain, idn, TEST_PASSWORD, PHASE_KDF_MODERATE);
      await inNewPage(async (page) => {
        await page.goto(`${server.url}/console/`);
        await page.getByLabel('E-mail').fill(idn.email);
        await page.getByLabel('Password').fill(TEST_PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Sign out' }).waitFor();
        assert.match(await page.locator('header').innerText(), /exämple\.io/);
        await signOut(page);
      });
    });

    test('an app created while its keys cannot be loaded is reported as created, never made twice', async () => {
      await inNewPage(async (page) => {
        await signIn(page);
        const nav = page.getByRole('navigation', { name: 'Apps' });
        await nav.getByRole('button', { name: /shop/ }).waitFor();
        // From now on the session cannot be reopened (the request that loads keys fails).
        await page.route('**/service/secrets/tokens/', (route) => route.abort());
        await nav.getByRole('button', { name: '+ New app' }).click();
        const form = page.getByRole('form', { name: 'New app' });
        await form.getByLabel('Name').fill('orphan-check');
        await form.getByRole('button', { name: 'Create app' }).click();
        const notice = page.getByRole('status');
        await notice.waitFor();
        assert.match(await notice.innerText(), /App 'orphan-check' was created, but this page could not load its keys/);
        assert.equal(await page.getByRole('form', { name: 'New app' }).count(), 0, 'the form is closed: nothing to retry');
        const named = ((await api.get('/v1/apps/')).body.data as Array<{ name: string }>).filter((a) => a.name === 'orphan-check');
        assert.equal(named.length, 1);
        await page.unroute('**/service/secrets/tokens/');
        await signOut(page);
      });
    });

    test('shares an end-to-end encrypted app with a member, environment by environment', async () => {
      const developer = await addMemberWithToken(server.domain, owner.organisationId, 'Developer');
      const email = (await api.get(`/v1/members/${developer.memberId}/`)).body.email as string;
      await withSession((session) => session.create(session.environment(vault.id, 'Development'), [{ key: 'VAULT_KEY', value: 'vault-value-1' }]));
      await inNewPage(async (page) => {
        await signIn(page);
        await page.getByRole('button', { name: 'Members' }).click();
        const row = page.locator(`tr[data-member="${email}"]`);
        await row.getByRole('button', { name: 'Share E2EE app' }).click();
        const form = page.getByRole('form', { name: `Share with ${email}` });
        await form.getByLabel('App').selectOption({ label: 'vault' });
        await form.getByLabel('Staging').uncheck();
        await form.getByLabel('Production').uncheck();
        await form.getByRole('button', { name: 'Share' }).click();
        await page.getByRole('status').filter({ hasText: `${email} now holds vault: Development.` }).waitFor();
        await signOut(page);
      });
      // The member's own client opens what the page wrapped for it, and only that environment.
      const session = await PhaseSession.open({ host: server.url, token: developer.token });
      try {
        const app = session.app(vault.id);
        assert.deepEqual(app.environments.map((e) => e.name), ['Development']);
        assert.equal((await session.list(app.environments[0]!, { key: 'VAULT_KEY' }))[0]?.value, 'vault-value-1');
      } finally {
        session.close();
      }
    });

    test('a wrong password is refused with the server message; no session or token is left', async () => {
      await inNewPage(async (page, context) => {
        const tokensBefore = (await consoleTokens()).length;
        await signIn(page, 'not the password');
        const alert = page.getByRole('alert');
        await alert.waitFor();
        assert.match(await alert.innerText(), /invalid|incorrect|password/i);
        assert.equal((await context.cookies()).length, 0);
        assert.equal((await consoleTokens()).length, tokensBefore);
        assert.equal(await page.getByRole('button', { name: 'Sign in' }).isEnabled(), true);
      });
    });
  });
}

describe('web console assets', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ store: 'pglite' });
  });
  after(() => server?.close());

  test('the page is served with headers that allow nothing but its own origin', async () => {
    const page = await fetch(`${server.url}/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(directive), csp);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const asset = await fetch(server.url + script);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  });

  test('/console redirects to /console/; nothing outside the built console is served', async () => {
    assert.equal((await fetch(`${server.url}/console/`, { method: 'HEAD' })).status, 200);
    for (const path of ['/invites/some-token', '/invites/some-token/']) {
      const invitePage = await fetch(server.url + path);
      assert.equal(invitePage.status, 200, path);
      assert.match(invitePage.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(invitePage.headers.get('referrer-policy'), 'no-referrer');
    }
    const bare = await fetch(`${server.url}/console`, { redirect: 'manual' });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), '/console/');
    for (const path of ['/console/assets/missing.js', '/console/../package.json', '/console/%2e%2e/package.json', '/console/..%2fpackage.json', '/console/.vite/manifest.json']) {
      const res = await fetch(server.url + path);
      assert.ok(res.status === 404 || res.status === 403 || res.status === 400, `${path}: ${res.status}`);
      assert.ok(!(await res.text()).includes('"dependencies"'), path);
    }
  });
});
