// `coffer account password`: change your password. The password wraps your keyring of every
// organisation you belong to, so each is unlocked here with the current password and wrapped again
// under the new one; the server stores them all with the new login hash at once. Your personal
// access tokens (and this machine's login) keep working; other console sessions end.
import { DecryptionError, derivePasswordLoginHash } from '../../../crypto/index.js';
import { CofferApi, type MeResponse } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { UserError } from '../../errors.js';
import { checkNewPassword, clientKdf, deviceKeysOf, rewrapKeyring, type RewrappedKeyringBody, type WrappedKeyringView } from '../../keys.js';
import { closeSession, openSession } from '../../session.js';
import { createUi, obtainSecretAndNewPassword } from '../../ui.js';

export interface AccountPasswordOptions {
  url?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

export async function accountPassword(options: AccountPasswordOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const api = new CofferApi(account.url);
  const me = await api.withCredentials({ kind: 'token', token: account.token }).get<MeResponse>('/coffer/v1/me/');
  const email = me.user.email;
  ui.intro(`Change the password of ${email}`);
  const [current, next] = await obtainSecretAndNewPassword(ui, {
    stdin: options.passwordStdin,
    option: '--password-stdin',
    first: { name: 'current password', message: 'Current password' },
    validate: checkNewPassword,
  });
  if (current === next) throw new UserError('the new password is the same as the current one');
  // A session, not the token: the token sees its own organisation only, the password wraps them all.
  const { session, login, loginHash } = await openSession(api, email, current, ui);
  const currentKeys = deviceKeysOf(current, email);
  const newKeys = deviceKeysOf(next, email);
  try {
    const kdf = clientKdf();
    const newLoginHash = await derivePasswordLoginHash(next, email, kdf.moderate);
    const spinner = ui.spinner();
    spinner.start(`Wrapping your keyrings again (${login.memberships.length})`);
    const keyrings: RewrappedKeyringBody[] = [];
    for (const membership of login.memberships) {
      const view = await session.get<WrappedKeyringView>(`/coffer/v1/me/keyring/?organisation_id=${encodeURIComponent(membership.organisationId)}`);
      try {
        keyrings.push(rewrapKeyring(view, await currentKeys.get(view.kdfParams), await newKeys.get(kdf.moderate), kdf.moderate));
      } catch (error) {
        spinner.error('Could not unlock a keyring');
        if (error instanceof DecryptionError) {
          throw new UserError(
            `your current password does not unlock your keyring of ${membership.organisationName} (${membership.organisationId})`,
            `if you recovered another organisation with its recovery phrase, recover this one too: coffer account recover --email ${email} --org ${membership.organisationId}`,
          );
        }
        throw error;
      }
    }
    spinner.stop('Keyrings wrapped under the new password');
    const changed = await session.post<{ organisations: number; sessionsEnded: number }>('/coffer/v1/me/password/', { currentLoginHash: loginHash, loginHash: newLoginHash, keyrings });
    if (ui.json) {
      ui.printJson({ email, organisations: changed.organisations, sessionsEnded: changed.sessionsEnded });
      return;
    }
    ui.success(`Password changed for ${changed.organisations} organisation${changed.organisations === 1 ? '' : 's'}.`);
    if (changed.sessionsEnded > 0) ui.info(`${changed.sessionsEnded} other console session${changed.sessionsEnded === 1 ? '' : 's'} ended.`);
    ui.outro('Your personal access tokens still work; revoke any you no longer trust with `coffer tokens revoke`.');
  } finally {
    currentKeys.wipe();
    newKeys.wipe();
    await closeSession(session);
  }
}
