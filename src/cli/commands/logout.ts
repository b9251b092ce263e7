// `coffer logout`: revoke the stored token on its server (when it can) and delete the stored login.
import { deleteCredentials, displayPath, credentialsPath, readCredentials, storedUserToken } from '../credentials.js';
import { UserError } from '../errors.js';
import { createUi } from '../ui.js';
import { revokeStoredToken } from './stored-login.js';

export interface LogoutOptions {
  json?: boolean;
}

export async function logout(options: LogoutOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const stored = await readCredentials();
  const envNote = process.env.COFFER_TOKEN ? ' COFFER_TOKEN is still set in this environment; unset it too.' : '';
  if (!stored) {
    if (ui.json) ui.printJson({ signedOut: false, revoked: false });
    else ui.outro(`You are not signed in (no ${displayPath(credentialsPath())}).${envNote}`);
    return;
  }
  try {
    storedUserToken(stored);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    // A damaged login cannot be revoked (there is no token to send); forgetting it is all there is to do.
    await deleteCredentials();
    if (ui.json) ui.printJson({ signedOut: true, revoked: false, url: stored.url });
    else ui.outro(`The stored login held no valid token, so nothing was revoked; ${displayPath(credentialsPath())} was deleted.${envNote}`);
    return;
  }
  const revoked = await revokeStoredToken(stored, ui);
  await deleteCredentials();
  if (ui.json) {
    ui.printJson({ signedOut: true, revoked, url: stored.url });
    return;
  }
  ui.outro(`Signed out of ${stored.url}${revoked ? '; the token was revoked' : ''}.${envNote}`);
}
