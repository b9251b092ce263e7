// `coffer login`: store a personal access token for later commands. With --token the given token
// is checked and stored. With --email the password signs in to a console session, unlocks the
// keyring here, mints a new token here and registers it; the session is then ended.
import { wipeKeyring } from '../../crypto/index.js';
import { CofferApi, type MeResponse, type MembershipResponse, type TokenResponse } from '../api.js';
import { checkUserToken, displayPath } from '../credentials.js';
import { UserError } from '../errors.js';
import { mintTokenFor, normaliseEmail, unlockKeyring, type WrappedKeyringView } from '../keys.js';
import { closeSession, openSession } from '../session.js';
import { createUi, obtainPassword, optionOrAsk, type Ui } from '../ui.js';
import { tokenNameForThisMachine } from './shared.js';
import { replaceStoredLogin } from './stored-login.js';

export interface LoginOptions {
  url?: string;
  token?: string;
  email?: string;
  org?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

interface SignedIn {
  api: CofferApi;
  token: string;
  tokenId: string | null;
  email: string;
  userId: string;
  membership: MembershipResponse;
}

export async function login(options: LoginOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  if (options.token && options.email) throw new UserError('pass either --token or --email, not both');
  ui.intro('Sign in to Coffer');
  const url = await optionOrAsk(ui, options.url, '--url', { message: 'Server URL', placeholder: 'https://coffer.example.com' });
  const api = new CofferApi(url);
  const signedIn = options.token ? await withToken(api, options.token) : await withPassword(api, options, ui);
  const file = await replaceStoredLogin(
    {
      url: api.baseUrl,
      token: signedIn.token,
      tokenId: signedIn.tokenId,
      email: signedIn.email,
      userId: signedIn.userId,
      organisationId: signedIn.membership.organisationId,
      organisationName: signedIn.membership.organisationName,
      minted: !options.token,
    },
    ui,
  );
  if (ui.json) {
    ui.printJson({
      url: api.baseUrl,
      email: signedIn.email,
      userId: signedIn.userId,
      organisationId: signedIn.membership.organisationId,
      organisationName: signedIn.membership.organisationName,
      role: signedIn.membership.role?.name ?? null,
      tokenId: signedIn.tokenId,
      credentialsFile: file,
    });
    return;
  }
  ui.outro(`Signed in to ${signedIn.membership.organisationName} as ${signedIn.email}. The token is stored in ${displayPath(file)}.`);
}

async function withToken(api: CofferApi, text: string): Promise<SignedIn> {
  const token = checkUserToken(text, '--token');
  const me = await api.withCredentials({ kind: 'token', token }).get<MeResponse>('/coffer/v1/me/');
  const membership = me.memberships[0];
  if (!membership) throw new UserError('this token has no organisation', 'create a new token in the organisation you want');
  return { api, token, tokenId: me.tokenId, email: me.user.email, userId: me.user.id, membership };
}

async function withPassword(api: CofferApi, options: LoginOptions, ui: Ui): Promise<SignedIn> {
  const email = normaliseEmail(await optionOrAsk(ui, options.email, '--email', { message: 'Email address' }));
  const password = await obtainPassword(ui, { stdin: options.passwordStdin, message: 'Password' });
  const { session, login } = await openSession(api, email, password, ui);
  try {
    const membership = await chooseMembership(login.memberships, options.org, api.baseUrl, ui);
    const query = `?organisation_id=${encodeURIComponent(membership.organisationId)}`;
    const view = await session.get<WrappedKeyringView>(`/coffer/v1/me/keyring/${query}`);
    const keyring = await unlockKeyring(view, email, password, ui);
    let minted: ReturnType<typeof mintTokenFor>;
    try {
      minted = mintTokenFor(keyring, tokenNameForThisMachine(), null);
    } finally {
      wipeKeyring(keyring);
    }
    const registered = await session.post<TokenResponse>(`/coffer/v1/tokens/${query}`, minted.body);
    return { api, token: minted.token, tokenId: registered.id, email, userId: login.user.id, membership };
  } finally {
    // The console session was only a means to register the token.
    await closeSession(session);
  }
}

async function chooseMembership(memberships: MembershipResponse[], org: string | undefined, url: string, ui: Ui): Promise<MembershipResponse> {
  if (memberships.length === 0) throw new UserError(`you are not a member of any organisation on ${url}`, 'ask an owner for an invite');
  if (org) {
    const wanted = org.trim().toLowerCase();
    const match = memberships.filter((m) => m.organisationId === wanted || m.organisationName.toLowerCase() === wanted);
    if (match.length === 1) return match[0]!;
    throw new UserError(`'${org}' does not name exactly one of your organisations`, `use one of: ${memberships.map((m) => `${m.organisationName} (${m.organisationId})`).join(', ')}`);
  }
  if (memberships.length === 1) return memberships[0]!;
  if (!ui.interactive) {
    throw new UserError(`you belong to ${memberships.length} organisations`, `pass --org with one of: ${memberships.map((m) => `${m.organisationName} (${m.organisationId})`).join(', ')}`);
  }
  const id = await ui.select({
    message: 'Which organisation?',
    options: memberships.map((m) => ({ value: m.organisationId, label: m.organisationName, hint: m.role?.name ?? '' })),
  });
  return memberships.find((m) => m.organisationId === id)!;
}
