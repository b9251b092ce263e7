// `coffer tokens create`: a new personal access token, minted here from your unlocked keyring (so it
// asks for your password), or with --service-account a service-account token minted by the server.
import { derivePasswordLoginHash, wipeKeyring } from '../../../crypto/index.js';
import { CofferApi, type MeResponse, type TokenResponse } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { clientKdf, mintTokenFor, parseDuration, unlockKeyring, type WrappedKeyringView } from '../../keys.js';
import { createUi, obtainPassword } from '../../ui.js';
import { tokenNameForThisMachine } from '../shared.js';

export interface TokensCreateOptions {
  name?: string;
  expiresIn?: string;
  serviceAccount?: string;
  url?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

interface ServiceAccountTokenResponse {
  id: string;
  name: string;
  created_at?: string;
  createdAt?: string;
  expires_at?: string | null;
  expiresAt?: string | null;
  token: string;
  bearer_token?: string;
  bearerToken?: string;
}

export async function tokensCreate(options: TokensCreateOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const account = await resolveAccount(options.url);
  const api = new CofferApi(account.url, { kind: 'token', token: account.token });
  // An empty value (an unset shell variable) is refused, not taken as "never expires".
  const lifetimeMs = options.expiresIn !== undefined ? parseDuration(options.expiresIn) : null;
  const name = options.name?.trim() || tokenNameForThisMachine();

  if (options.serviceAccount) {
    const body: Record<string, unknown> = { name };
    if (lifetimeMs !== null) body.expires_in = Math.round(lifetimeMs / 1000);
    const created = await api.post<ServiceAccountTokenResponse>(`/v1/service-accounts/${encodeURIComponent(options.serviceAccount)}/tokens/`, body);
    const expiresAt = created.expiresAt ?? created.expires_at ?? null;
    if (ui.json) {
      ui.printJson({ id: created.id, name: created.name, serviceAccountId: options.serviceAccount, expiresAt, token: created.token });
      return;
    }
    ui.secret(`Service-account token '${created.name}' (shown only now)`, created.token);
    ui.outro(expiresAt ? `It expires at ${expiresAt}.` : 'It does not expire; revoke it when it is no longer needed.');
    return;
  }

  const me = await api.get<MeResponse>('/coffer/v1/me/');
  const view = await api.get<WrappedKeyringView>('/coffer/v1/me/keyring/');
  const password = await obtainPassword(ui, { stdin: options.passwordStdin, message: `Password of ${me.user.email}` });
  const keyring = await unlockKeyring(view, me.user.email, password, ui);
  let minted: ReturnType<typeof mintTokenFor>;
  try {
    minted = mintTokenFor(keyring, name, lifetimeMs === null ? null : new Date(Date.now() + lifetimeMs));
  } finally {
    wipeKeyring(keyring);
  }
  // The server asks a token registering another token for the password as well (the login hash).
  const loginHash = await derivePasswordLoginHash(password, me.user.email, clientKdf().moderate);
  const registered = await api.post<TokenResponse>('/coffer/v1/tokens/', { ...minted.body, loginHash });
  if (ui.json) {
    ui.printJson({ id: registered.id, name: registered.name, organisationId: view.organisationId, createdAt: registered.createdAt, expiresAt: registered.expiresAt, token: minted.token });
    return;
  }
  ui.secret(`Personal access token '${registered.name}' (shown only now)`, minted.token);
  ui.outro(registered.expiresAt ? `It expires at ${registered.expiresAt}. Revoke it with \`coffer tokens revoke ${registered.id}\`.` : `It does not expire. Revoke it with \`coffer tokens revoke ${registered.id}\`.`);
}
