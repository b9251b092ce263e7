// The CLI's stored login over its lifetime: replacing it (login, setup, orgs create, invites accept)
// and ending it (logout). A token the CLI minted itself exists only in this file, so when the file
// stops holding it, it is revoked on its server; a token given with `login --token` may be used
// elsewhere too, so it is left alone.
import { ApiError, CofferApi, isMe, type MeResponse } from '../api.js';
import { readCredentials, storedUserToken, writeCredentials, type StoredCredentials } from '../credentials.js';
import { UserError } from '../errors.js';
import type { Ui } from '../ui.js';

/**
 * Revokes a stored login's token with the token itself. True when it is gone (revoked now, or
 * already revoked or expired); otherwise warns, naming the token, and returns false.
 */
export async function revokeStoredToken(stored: StoredCredentials, ui: Ui): Promise<boolean> {
  let token: string;
  try {
    token = storedUserToken(stored);
  } catch (error) {
    if (error instanceof UserError) return false;
    throw error;
  }
  const api = new CofferApi(stored.url, { kind: 'token', token });
  try {
    const tokenId = stored.tokenId ?? (await api.get<MeResponse>('/coffer/v1/me/', isMe)).tokenId;
    if (!tokenId) return false;
    await api.delete(`/coffer/v1/tokens/${tokenId}/`);
    return true;
  } catch (error) {
    // Already revoked or expired: nothing left to do on the server.
    if (error instanceof ApiError && error.status === 401) return true;
    // The login is about to be forgotten, so name the token: it can only be revoked from another sign-in.
    const [which, id] = stored.tokenId ? [`token ${stored.tokenId}`, stored.tokenId] : ["this token (its id is on the console's token page)", 'ID'];
    ui.warn(`Could not revoke the token on ${stored.url} (${(error as Error).message}). Revoke ${which} later: sign in again and run \`coffer tokens revoke ${id}\`, or use the console.`);
    return false;
  }
}

/**
 * Stores a new login in place of the current one. The one replaced is revoked when this CLI minted
 * it (nothing else holds it); a token given with `login --token` stays valid.
 */
export async function replaceStoredLogin(credentials: StoredCredentials, ui: Ui): Promise<string> {
  const previous = await readCredentials().catch(() => undefined);
  const file = await writeCredentials(credentials);
  if (previous?.minted && previous.token !== credentials.token) await revokeStoredToken(previous, ui);
  return file;
}
