// Joining from the web console in a real Chromium: first-run setup with the one-time code, and an
// invite link opened in the browser. Every key is made in the page: the server stores a recovery
// phrase it cannot open (the one the page showed), and never sees the password or the phrase.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { deriveDeviceKey, PHASE_KDF_MODERATE, unwrapRecoveryPhrase } from '../../src/crypto/index.js';
import type { Domain } from '../../src/domain/index.js';
import { launchChromium } from '../helpers/browser.js';
import { apiClient, createOwner } from '../helpers/fixtures.js';
import { roleId } from '../helpers/principals.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createEmptyPostgresDatabase, STORE_TARGETS } from '../helpers/stores.js';
import { dumpDatabase } from '../http/console/accounts.js';

const PASSWORD = 'a long console password';

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(() => browser?.close());

/** The phrase as the page shows it, word by word. */
async function shownPhrase(page: Page): Promise<string> {
  const words = page.getByRole('region', { name: 'Recovery phrase' }).locator('ol li');
  await words.first().waitFor({ timeout: 120_000 });
  return (await words.allInnerTexts()).map((w) => w.trim()).join(' ');
}

/** What the member row holds opens, with the password's device key, to exactly the phrase shown. */
async function storedPhrase(domain: Domain, organisationId: string, email: string): Promise<string> {
  const row = await domain.deps.db
    .selectFrom('members')
    .innerJoin('users', 'users.id', 'members.user_id')
    .select(['members.wrapped_recovery'])
    .where('members.organisation_id', '=', organisationId)
    .where('users.email', '=', email)
    .executeTakeFirstOrThrow();
  return unwrapRecoveryPhrase(row.wrapped_recovery, await deriveDeviceKey(PASSWORD, email, PHASE_KDF_MODERATE));
}

async function continueAfterPhrase(page: Page) {
  await page.getByRole('checkbox', { name: 'I have stored my recovery phrase' }).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 });
}

for (const target of STORE_TARGETS) {
  describe(`console first-run setup (${target.kind})`, { timeout: 240_000 }, () => {
    const code = `console-setup-${randomUUID()}`;
    let server: TestServer;
    let drop: (() => Promise<void>) | undefined;

    before(async () => {
      let databaseUrl: string | undefined;
      if (target.kind === 'postgres') ({ url: databaseUrl, drop } = await createEmptyPostgresDatabase());
      server = await startTestServer({ store: target.kind, env: { COFFER_SETUP_CODE: code }, ...(databaseUrl ? { databaseUrl } : {}) });
    });
    after(async () => {
      await server?.close();
      await drop?.();
    });

    test('a wrong code is refused before any key is derived; the right one creates the organisation and signs its owner in', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const sent: string[] = [];
      page.on('request', (request) => sent.push(`${request.url()} ${request.postData() ?? ''}`));
      try {
        await page.goto(`${server.url}/console/`);
        const form = page.getByRole('form', { name: 'Setup' });
        await form.getByLabel('Setup code').fill('not-the-setup-code');
        await form.getByLabel('Organisation name').fill('Initech');
        await form.getByLabel('E-mail').fill('Owner@Initech.example');
        await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await form.getByLabel('Repeat the password').fill(PASSWORD);
        await form.getByRole('button', { name: 'Create organisation' }).click();
        await page.getByRole('alert').waitFor();
        assert.match(await page.getByRole('alert').innerText(), /code/i);
        assert.equal(await server.domain.setup.required(), true);

        await form.getByLabel('Setup code').fill(code);
        await form.getByRole('button', { name: 'Create organisation' }).click();
        const phrase = await shownPhrase(page);
        assert.equal(phrase.split(' ').length, 24);
        assert.equal(await page.getByRole('button', { name: 'Continue' }).isDisabled(), true, 'Continue waits for the phrase to be stored');
        await continueAfterPhrase(page);
        assert.match(await page.locator('header').innerText(), /Initech[\s\S]*owner@initech\.example/);
        assert.match(await page.getByRole('navigation', { name: 'Apps' }).innerText(), /No app is shared with you yet/);

        assert.equal(await server.domain.setup.required(), false);
        const organisation = await server.domain.deps.db.selectFrom('organisations').select('id').executeTakeFirstOrThrow();
        assert.equal(await storedPhrase(server.domain, organisation.id, 'owner@initech.example'), phrase);
        const dump = await dumpDatabase(server.domain.deps.db);
        assert.ok(!dump.includes(phrase.split(' ').slice(0, 3).join(' ')), 'the phrase is not stored in plaintext');
        for (const line of sent) assert.ok(!line.includes(PASSWORD) && !line.includes(phrase.split(' ').slice(0, 3).join(' ')), `sent in plaintext: ${line.slice(0, 120)}`);

        // The password chosen in the page signs in again.
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByLabel('E-mail').fill('owner@initech.example');
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 60_000 });
      } finally {
        await context.close();
      }
    });
  });

  describe(`console invite link (${target.kind})`, { timeout: 240_000 }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ store: target.kind });
    });
    after(() => server?.close());

    test('the invite URL opens the console, which joins the organisation with keys made in the page', async () => {
      const owner = await createOwner(server.domain, { name: `Invites ${target.kind}` });
      const api = apiClient(server.url, owner.authorization);
      const email = `dana-${randomUUID().slice(0, 8)}@example.com`;
      const invited = await api.post('/v1/members/invites/', { email, role_id: await roleId(server.domain, owner.organisationId, 'Developer') });
      assert.equal(invited.status, 201, invited.text);
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(invited.body.inviteUrl);
        await page.getByRole('heading', { name: `Join Invites ${target.kind}` }).waitFor();
        assert.match(await page.locator('main').innerText(), new RegExp(`${email.replace('.', '\\.')} as Developer`));
        const form = page.getByRole('form', { name: 'Accept invite' });
        await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await form.getByLabel('Repeat the password').fill(`${PASSWORD}!`);
        await form.getByRole('button', { name: 'Join' }).click();
        assert.equal(await page.getByRole('alert').innerText(), 'The two passwords differ.');
        await form.getByLabel('Repeat the password').fill(PASSWORD);
        await form.getByRole('button', { name: 'Join' }).click();
        const phrase = await shownPhrase(page);
        await continueAfterPhrase(page);
        assert.equal(new URL(page.url()).pathname, '/console/', 'the used invite token leaves the address bar');

        const members = await api.get('/v1/members/');
        const member = members.body.data.find((m: any) => m.email === email);
        assert.equal(member?.role?.name, 'Developer');
        assert.equal(await storedPhrase(server.domain, owner.organisationId, email), phrase);
        // A used invite cannot be opened again.
        await page.goto(invited.body.inviteUrl);
        await page.getByRole('alert').waitFor();
      } finally {
        await context.close();
      }
    });
  });
}
