// `coffer logout`: revoke the stored token on its server (when it can) and delete the stored login.
import { ApiError, CofferApi, isMe, type MeResponse } from '../api.js';
import { deleteCredentials, displayPath, credentialsPath, readCredentials, storedUserToken } from '../credentials.js';
import { UserError } from '../errors.js';
import { createUi } from '../ui.js';

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
  let token: string;
  try {
    token = storedUserToken(stored);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    // A damaged login cannot be revoked (there is no token to send); forgetting it is all there is to do.
    await deleteCredentials();
    if (ui.json) ui.printJson({ signedOut: true, revoked: false, url: stored.url });
    else ui.outro(`The stored login held no valid token, so nothing was revoked; ${displayPath(credentialsPath())} was deleted.${envNote}`);
    return;
  }
  const api = new CofferApi(stored.url, { kind: 'token', token });
  let revoked = false;
  try {
    const tokenId = stored.tokenId ?? (await api.get<MeResponse>('/coffer/v1/me/', isMe)).tokenId;
    if (tokenId) {
      await api.delete(`/coffer/v1/tokens/${tokenId}/`);
      revoked = true;
    }
  } catch (error) {
    // Already revoked or expired: nothing left to do on the server.
    if (error instanceof ApiError && error.status === 401) revoked = true;
    else {
      // This login is deleted below, so name the token: it can only be revoked from another sign-in.
      const [which, id] = stored.tokenId ? [`token ${stored.tokenId}`, stored.tokenId] : ["this token (its id is on the console's token page)", 'ID'];
      ui.warn(`Could not revoke the token on ${stored.url} (${(error as Error).message}). Revoke ${which} later: sign in again and run \`coffer tokens revoke ${id}\`, or use the console.`);
    }
  }
  await deleteCredentials();
  if (ui.json) {
    ui.printJson({ signedOut: true, revoked, url: stored.url });
    return;
  }
  ui.outro(`Signed out of ${stored.url}${revoked ? '; the token was revoked' : ''}.${envNote}`);
}
