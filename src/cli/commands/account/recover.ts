// `coffer account recover`: a forgotten password, recovered with an organisation's recovery phrase.
// The phrase derives that membership's keyring here; it is wrapped under the new password and the
// request is signed with it, so the server can check it against the membership's identity key
// without ever seeing the phrase or the password. Every console session of the account ends.
import { CofferApi, ApiError } from '../../api.js';
import { readCredentials } from '../../credentials.js';
import { UserError } from '../../errors.js';
import { checkNewPassword, normaliseEmail, recoveryRequest } from '../../keys.js';
import { createUi, obtainSecretAndNewPassword, optionOrAsk } from '../../ui.js';

export interface AccountRecoverOptions {
  url?: string;
  email?: string;
  org?: string;
  stdin?: boolean;
  json?: boolean;
}

interface Recovered {
  userId: string;
  organisationId: string;
  memberId: string;
  otherOrganisations: Array<{ organisationId: string; organisationName: string }>;
  sessionsEnded: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function accountRecover(options: AccountRecoverOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  const stored = await readCredentials().catch(() => undefined);
  ui.intro('Recover your account with a recovery phrase');
  const url = await optionOrAsk(ui, options.url ?? stored?.url, '--url', { message: 'Server URL', placeholder: 'https://coffer.example.com' });
  const email = normaliseEmail(await optionOrAsk(ui, options.email ?? stored?.email, '--email', { message: 'Email address' }));
  const org = (await optionOrAsk(ui, options.org ?? (stored?.email === email ? stored.organisationId : undefined), '--org', { message: 'Organisation id (the phrase belongs to one organisation)' })).toLowerCase();
  if (!UUID.test(org)) throw new UserError(`'${org}' is not an organisation id`, 'pass --org with the id shown when you joined (coffer whoami shows it on a machine still signed in)');
  const [phrase, password] = await obtainSecretAndNewPassword(ui, {
    stdin: options.stdin,
    option: '--stdin',
    first: { name: 'recovery phrase', message: 'Recovery phrase (24 words)' },
    validate: checkNewPassword,
  });
  const body = await recoveryRequest({ phrase, organisationId: org, email, newPassword: password, ui });
  const api = new CofferApi(url);
  let recovered: Recovered;
  try {
    recovered = await api.post<Recovered>('/coffer/v1/auth/recover/', body);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw new UserError(error.message, 'check the e-mail address, the organisation id and the 24 words');
    throw error;
  }
  if (ui.json) {
    ui.printJson({ url: api.baseUrl, email, ...recovered });
    return;
  }
  ui.success(`Recovered: ${email} has a new password.`);
  if (recovered.sessionsEnded > 0) ui.info(`${recovered.sessionsEnded} console session${recovered.sessionsEnded === 1 ? '' : 's'} ended.`);
  if (recovered.otherOrganisations.length > 0) {
    ui.warn(
      `Your keyrings of ${recovered.otherOrganisations.map((o) => `${o.organisationName} (${o.organisationId})`).join(', ')} are still wrapped under the old password: ` +
        'recover each with its own recovery phrase (coffer account recover --org ID).',
    );
  }
  ui.outro(`Sign in with the new password: coffer login --url ${api.baseUrl} --email ${email} --org ${recovered.organisationId}`);
}
