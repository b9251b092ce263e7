// `coffer apps enable-sse APP`: one-way switch of an end-to-end encrypted app to server-side
// encryption. The environment seeds and salts your token unwraps are wrapped to the server's key;
// the server checks each against its environment and keeps a sealed copy. Secrets stay as they are.
import { resolveAccount } from '../../credentials.js';
import { ExitError, UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { withSession } from './shared.js';

export interface AppsEnableSseOptions {
  yes?: boolean;
  url?: string;
  json?: boolean;
}

export async function appsEnableSse(app: string, options: AppsEnableSseOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const enabled = await withSession(account, async (session) => {
    const target = session.app(app);
    if (target.encryption === 'SSE') throw new UserError(`${target.name} already uses server-side encryption`);
    if (!options.yes) {
      // One-way, like a deletion: without a terminal to ask on, only --yes confirms it.
      if (!ui.interactive) throw new UserError(`enabling SSE lets the server read ${target.name}'s secrets from now on and cannot be undone`, 'pass --yes to confirm');
      const answer = await ui.select({
        message: `Let the server read ${target.name}'s secrets from now on? This cannot be undone.`,
        options: [
          { value: 'no', label: 'No, keep it end-to-end encrypted' },
          { value: 'yes', label: 'Yes, enable SSE' },
        ],
      });
      if (answer !== 'yes') {
        ui.outro('Nothing was changed.');
        throw new ExitError(0);
      }
    }
    return session.enableSse(target.id);
  });
  if (ui.json) {
    ui.printJson({ url: account.url, id: enabled.id, name: enabled.name, sseEnabled: enabled.sseEnabled });
    return;
  }
  ui.success(`Server-side encryption is on for ${enabled.name} (${enabled.id}).`);
  ui.outro('The REST API (/v1/secrets/) now serves this app; the Phase SDKs keep working as before.');
}
