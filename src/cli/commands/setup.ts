// `coffer setup`: first run. Makes the owner's keyring and first token here, sends the server only
// public and wrapped material with the one-time setup code, and shows the token and the recovery
// phrase once.
import { CofferApi, type NewMembershipResponse } from '../api.js';
import { UserError } from '../errors.js';
import { checkNewPassword, newMembershipMaterial, normaliseEmail } from '../keys.js';
import { createUi, obtainPassword, optionOrAsk } from '../ui.js';
import { completeNewMembership, tokenNameForThisMachine } from './shared.js';

export interface SetupOptions {
  url?: string;
  code?: string;
  email?: string;
  org?: string;
  fullName?: string;
  passwordStdin?: boolean;
  json?: boolean;
  save?: boolean;
}

export async function setup(options: SetupOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  ui.intro('Coffer setup');
  const url = await optionOrAsk(ui, options.url, '--url', { message: 'Server URL', placeholder: 'https://coffer.example.com' });
  const api = new CofferApi(url);
  const status = await api.get<{ required: boolean }>('/coffer/v1/setup/');
  if (!status.required) {
    throw new UserError(`setup has already been completed on ${api.baseUrl}`, 'sign in with `coffer login`, or ask an owner for an invite');
  }
  const code = await optionOrAsk(ui, options.code, '--code', { message: 'Setup code (from the server log)', placeholder: 'XXXXX-XXXXX-XXXXX-XXXXX' });
  // A mistyped code fails now, not after the keys were derived.
  await api.post('/coffer/v1/setup/check/', { code });
  const email = normaliseEmail(await optionOrAsk(ui, options.email, '--email', { message: 'Your email address' }));
  const org = await optionOrAsk(ui, options.org, '--org', { message: 'Organisation name', placeholder: 'Acme' });
  const password = await obtainPassword(ui, { stdin: options.passwordStdin, message: 'Choose a password', confirm: true, validate: checkNewPassword });

  const material = await newMembershipMaterial({ email, password, tokenName: tokenNameForThisMachine(), ui });
  const created = await api.post<NewMembershipResponse & { email: string }>('/coffer/v1/setup/', {
    code,
    organisation: { id: material.organisationId, name: org },
    user: { email, ...(options.fullName ? { fullName: options.fullName } : {}), loginHash: material.loginHash },
    keyring: material.keyring,
    token: material.tokenBody,
  });
  await completeNewMembership(
    ui,
    { ...created, url: api.baseUrl, email, role: 'Owner', token: material.token, recoveryPhrase: material.recoveryPhrase },
    { store: options.save !== false, headline: `Organisation ${created.organisationName} is ready, and you are its owner.`, notStored: 'The token was not stored (--no-save).' },
  );
}
