// `coffer apps revoke APP --member EMAIL | --service-account NAME`: take an end-to-end encrypted
// app's keys back (the recipient leaves the app). Also how keys handed on wrongly are replaced:
// revoke, then `coffer apps grant` again. What the recipient decrypted before stays with them.
import { resolveAccount } from '../../credentials.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { resolveRecipient, withSession, type RecipientOptions } from './shared.js';

export interface AppsRevokeOptions extends RecipientOptions {
  url?: string;
  json?: boolean;
}

export async function appsRevoke(app: string, options: AppsRevokeOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const recipient = await resolveRecipient(account, options);
  const { answer, appName } = await withSession(account, async (session) => {
    const target = session.app(app);
    if (target.encryption === 'SSE') {
      throw new UserError(`${target.name} uses server-side encryption`, `change its access with PUT /v1/${recipient.type === 'member' ? 'members' : 'service-accounts'}/{id}/access/`);
    }
    return { answer: await session.revokeE2ee(target.id, recipient), appName: target.name };
  });
  if (ui.json) {
    ui.printJson({ url: account.url, appId: answer.appId, recipient, environmentsRevoked: answer.environmentsRevoked });
    return;
  }
  const who = options.member ?? options.serviceAccount!;
  ui.success(
    answer.environmentsRevoked.length > 0
      ? `${who} no longer holds ${appName} (${answer.environmentsRevoked.length} environment${answer.environmentsRevoked.length === 1 ? '' : 's'}). Rotate the secrets they could read if that matters.`
      : `${who} held no key of ${appName}; nothing changed`,
  );
}
