// `coffer account phrase`: show this login's organisation's recovery phrase again, for someone who
// still knows the password but lost the words (a closed console tab, a lost note). The server holds
// the phrase only wrapped under the device key of (password, e-mail); it is opened here.
import { DecryptionError, deriveDeviceKey, unwrapRecoveryPhrase } from '../../../crypto/index.js';
import { CofferApi, type MeResponse } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { UserError } from '../../errors.js';
import type { WrappedKeyringView } from '../../keys.js';
import { createUi, obtainPassword } from '../../ui.js';

export interface AccountPhraseOptions {
  url?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

export async function accountPhrase(options: AccountPhraseOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const api = new CofferApi(account.url, { kind: 'token', token: account.token });
  const me = await api.get<MeResponse>('/coffer/v1/me/');
  const view = await api.get<WrappedKeyringView>('/coffer/v1/me/keyring/');
  const organisation = me.memberships.find((m) => m.organisationId === view.organisationId);
  const password = await obtainPassword(ui, { stdin: options.passwordStdin, message: `Password of ${me.user.email}` });
  const deviceKey = await deriveDeviceKey(password, me.user.email, view.kdfParams);
  let phrase: string;
  try {
    phrase = unwrapRecoveryPhrase(view.wrappedRecovery, deviceKey);
  } catch (error) {
    if (error instanceof DecryptionError) throw new UserError(`wrong password for ${me.user.email}`, 'use the password you sign in with');
    throw error;
  } finally {
    deviceKey.fill(0);
  }
  if (ui.json) {
    ui.printJson({ organisationId: view.organisationId, organisationName: organisation?.organisationName ?? null, recoveryPhrase: phrase });
    return;
  }
  ui.secret(`Recovery phrase of ${organisation?.organisationName ?? view.organisationId} (keep it offline)`, phrase);
}
