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
import { apiClient, createOwner, ownerLoginHash, TEST_PASSWORD } from '../helpers/fixtures.js';
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
        assert.ok(server.logs.some((line) => line.includes('No organisation exists yet') && line.includes(`${server.url}/console/`)), 'the log points at the console');
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

    test('an owner invites from the console; the link opens the console, which joins with keys made in the page', async () => {
      const owner = await createOwner(server.domain, { name: `Invites ${target.kind}` });
      await ownerLoginHash(server.domain, owner, TEST_PASSWORD, PHASE_KDF_MODERATE);
      const api = apiClient(server.url, owner.authorization);
      const email = `dana-${randomUUID().slice(0, 8)}@example.com`;
      const ownerContext = await browser.newContext();
      const inviteeContext = await browser.newContext();
      try {
        // The owner invites from the Members page and is shown the link once.
        const console = await ownerContext.newPage();
        await console.goto(`${server.url}/console/`);
        await console.getByLabel('E-mail').fill(owner.email);
        await console.getByLabel('Password').fill(TEST_PASSWORD);
        await console.getByRole('button', { name: 'Sign in' }).click();
        await console.getByRole('button', { name: 'Members' }).click();
        await console.locator(`tr[data-member="${owner.email}"]`).waitFor();
        const inviteForm = console.getByRole('form', { name: 'Invite' });
        // Nobody is invited straight into Owner or Admin: the page does not offer them.
        const offered = await inviteForm.getByLabel('Role').locator('option').allInnerTexts();
        assert.ok(offered.includes('Developer') && !offered.includes('Owner') && !offered.includes('Admin'), offered.join(', '));
        await inviteForm.getByLabel('E-mail').fill(email);
        await inviteForm.getByLabel('Role').selectOption({ label: 'Developer' });
        await inviteForm.getByRole('button', { name: 'Invite' }).click();
        const inviteUrl = await console.getByRole('status').locator('code').innerText();
        assert.match(inviteUrl, new RegExp(`^${server.url}/invites/[^/]+$`));
        await console.locator(`tr[data-invite="${email}"]`).waitFor();

        // A second invite, cancelled: its link no longer opens.
        const other = `erin-${randomUUID().slice(0, 8)}@example.com`;
        await inviteForm.getByLabel('E-mail').fill(other);
        await inviteForm.getByRole('button', { name: 'Invite' }).click();
        const cancelledUrl = await console.getByRole('status').filter({ hasText: other }).locator('code').innerText();
        assert.notEqual(cancelledUrl, inviteUrl);
        await console.locator(`tr[data-invite="${other}"]`).getByRole('button', { name: 'Cancel invite' }).click();
        await console.locator(`tr[data-invite="${other}"]`).waitFor({ state: 'detached' });
        assert.equal(await console.getByRole('status').count(), 0, 'the cancelled link is no longer shown');
        assert.equal((await fetch(`${server.url}/coffer/v1/invites/${cancelledUrl.split('/').pop()}/`)).status, 404);

        // The invitee opens the link.
        const page = await inviteeContext.newPage();
        await page.goto(inviteUrl);
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
        // The owner's Members page shows the new member, and the invite is no longer pending.
        await console.getByRole('button', { name: 'Secrets' }).click();
        await console.getByRole('button', { name: 'Members' }).click();
        await console.locator(`tr[data-member="${email}"]`).waitFor();
        assert.equal(await console.locator(`tr[data-invite="${email}"]`).count(), 0);
        // A used invite cannot be opened again.
        await page.goto(inviteUrl);
        await page.getByRole('alert').waitFor();
      } finally {
        await ownerContext.close();
        await inviteeContext.close();
      }
    });
  });
}
