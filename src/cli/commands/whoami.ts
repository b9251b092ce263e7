// `coffer whoami`: who the stored login (or COFFER_TOKEN) is, on which server and organisation.
import { CofferApi, isMe, type MeResponse } from '../api.js';
import { credentialsPath, displayPath, resolveAccount } from '../credentials.js';
import { visible } from '../table.js';
import { createUi } from '../ui.js';

export interface WhoamiOptions {
  url?: string;
  json?: boolean;
}

export async function whoami(options: WhoamiOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const me = await new CofferApi(account.url, { kind: 'token', token: account.token }).get<MeResponse>('/coffer/v1/me/', isMe);
  const membership = me.memberships[0] ?? null;
  if (ui.json) {
    ui.printJson({
      url: account.url,
      user: me.user,
      organisation: membership,
      tokenId: me.tokenId,
      source: account.source,
    });
    return;
  }
  const source = account.source === 'environment' ? 'COFFER_TOKEN' : displayPath(credentialsPath());
  const lines = [
    `User          ${me.user.email}${me.user.fullName ? ` (${me.user.fullName})` : ''}`,
    `Organisation  ${membership ? `${membership.organisationName} (${membership.organisationId})` : '-'}`,
    `Role          ${membership?.role?.name ?? '-'}`,
    `Server        ${account.url}`,
    `Token         ${me.tokenId ?? '-'} from ${source}`,
  ];
  process.stdout.write(`${lines.map(visible).join('\n')}\n`);
}
