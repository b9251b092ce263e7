// `coffer tokens revoke ID`: the token stops working at once (401 on its next request).
import { CofferApi } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { UserError } from '../../errors.js';
import { createUi } from '../../ui.js';

export interface TokensRevokeOptions {
  url?: string;
  json?: boolean;
}

export async function tokensRevoke(id: string, options: TokensRevokeOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  if (!/^[0-9a-fA-F-]{36}$/.test(id)) throw new UserError(`'${id}' is not a token id`, 'take the id from `coffer tokens list`');
  const account = await resolveAccount(options.url);
  await new CofferApi(account.url, { kind: 'token', token: account.token }).delete(`/coffer/v1/tokens/${id.toLowerCase()}/`);
  const wasThisLogin = account.source === 'file' && account.stored?.tokenId === id.toLowerCase();
  if (ui.json) {
    ui.printJson({ revoked: id.toLowerCase() });
    return;
  }
  ui.success(`Revoked token ${id.toLowerCase()}.`);
  if (wasThisLogin) ui.warn('That was the token of your stored login; run `coffer login` to sign in again.');
}
