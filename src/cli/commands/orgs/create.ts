// `coffer orgs create`: another organisation owned by you. Its keyring is new (its own recovery
// phrase, salted with the new organisation's id) and wrapped under the same password; the token
// printed works in the new organisation only.
import { wipeKeyring } from '../../../crypto/index.js';
import { CofferApi, type MeResponse, type NewMembershipResponse } from '../../api.js';
import { resolveAccount } from '../../credentials.js';
import { newMembershipMaterial, unlockKeyring, type WrappedKeyringView } from '../../keys.js';
import { createUi, obtainPassword, optionOrAsk } from '../../ui.js';
import { completeNewMembership, tokenNameForThisMachine } from '../shared.js';

export interface OrgsCreateOptions {
  name?: string;
  url?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

export async function orgsCreate(options: OrgsCreateOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  ui.intro('New organisation');
  const account = await resolveAccount(options.url);
  const api = new CofferApi(account.url, { kind: 'token', token: account.token });
  const name = await optionOrAsk(ui, options.name, '--name', { message: 'Organisation name', placeholder: 'Acme' });
  const me = await api.get<MeResponse>('/coffer/v1/me/');
  const email = me.user.email;
  const password = await obtainPassword(ui, { stdin: options.passwordStdin, message: `Password of ${email}` });
  // The new keyring is wrapped under this password: prove it is the right one first, by opening
  // the current keyring with it, or the new organisation would be locked for good.
  const current = await api.get<WrappedKeyringView>('/coffer/v1/me/keyring/');
  wipeKeyring(await unlockKeyring(current, email, password, ui));
  const material = await newMembershipMaterial({ email, password, tokenName: tokenNameForThisMachine(), ui });
  const created = await api.post<NewMembershipResponse>('/coffer/v1/organisations/', {
    organisation: { id: material.organisationId, name },
    keyring: material.keyring,
    token: material.tokenBody,
    // The server checks the new keyring's password is still the account's.
    loginHash: material.loginHash,
  });
  await completeNewMembership(
    ui,
    { ...created, url: account.url, email, role: 'Owner', token: material.token, recoveryPhrase: material.recoveryPhrase },
    {
      store: false,
      headline: `Organisation ${created.organisationName} is ready, and you are its owner.`,
      notStored: 'Your login is unchanged; use this token (COFFER_TOKEN or `coffer login`) to work in the new organisation.',
    },
  );
}
