// `coffer tokens list`: your personal access tokens in the current organisation (never secrets).
import { CofferApi, dataListOf, hasStrings, type TokenResponse } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { printTable } from '../../table.js';
import { createUi } from '../../ui.js';

export interface TokensListOptions {
  url?: string;
  json?: boolean;
}

export async function tokensList(options: TokensListOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const api = new CofferApi(account.url, { kind: 'token', token: account.token });
  const { data } = await api.get<{ data: TokenResponse[] }>('/coffer/v1/tokens/', dataListOf(hasStrings('id', 'name', 'createdAt')));
  if (ui.json) {
    ui.printJson({ data });
    return;
  }
  if (data.length === 0) {
    process.stdout.write('No tokens.\n');
    return;
  }
  const current = account.stored && account.source === 'file' ? account.stored.tokenId : null;
  const rows = data.map((t) => [t.id, t.name + (t.id === current ? ' (this login)' : ''), day(t.createdAt), t.expiresAt ? day(t.expiresAt) : 'never', t.lastUsed ? day(t.lastUsed) : '-']);
  printTable(['ID', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED'], rows);
}

function day(iso: string): string {
  return iso.replace('T', ' ').slice(0, 16);
}
