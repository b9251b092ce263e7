// `coffer invites accept URL`: join an organisation from an invite link. The keyring for that
// organisation is made here; a new account gets the password chosen now, an existing account
// proves itself with its password.
import { CofferApi, type InviteResponse, type NewMembershipResponse, type RoleRef } from '../../api.js';
import { UserError } from '../../errors.js';
import { checkNewPassword, newMembershipMaterial, normaliseEmail } from '../../keys.js';
import { createUi, obtainPassword } from '../../ui.js';
import { completeNewMembership, tokenNameForThisMachine } from '../shared.js';

export interface InvitesAcceptOptions {
  url?: string;
  email?: string;
  fullName?: string;
  passwordStdin?: boolean;
  json?: boolean;
  save?: boolean;
}

/**
 * `https://host/invites/<token>` (any path ending in the token; the server is everything before
 * `/invite…` or `/coffer/v1/invites/`), or a bare token with --url.
 */
export function parseInviteLink(link: string, urlOption: string | undefined): { baseUrl: string; token: string } {
  const text = link.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    if (!urlOption) throw new UserError('the invite is not a link', 'pass the whole invite URL, or the token with --url');
    return { baseUrl: urlOption, token: text };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError('the invite link is not a valid URL', 'copy the whole link from the invitation');
  }
  const segments = url.pathname.split('/').filter(Boolean);
  const token = segments.pop();
  if (!token) throw new UserError('the invite link has no token in it', 'copy the whole link from the invitation');
  const marker = segments.findIndex((s, i) => /^invites?$/i.test(s) && i === segments.length - 1);
  let prefix = marker >= 0 ? segments.slice(0, marker) : segments;
  if (prefix.length >= 2 && prefix[prefix.length - 2] === 'coffer' && prefix[prefix.length - 1] === 'v1') prefix = prefix.slice(0, -2);
  const base = `${url.origin}${prefix.length ? `/${prefix.join('/')}` : ''}`;
  return { baseUrl: urlOption ?? base, token: decodeURIComponent(token) };
}

export async function invitesAccept(link: string, options: InvitesAcceptOptions): Promise<void> {
  const ui = createUi({ json: options.json });
  ui.intro('Accept an invite');
  const { baseUrl, token: inviteToken } = parseInviteLink(link, options.url);
  const api = new CofferApi(baseUrl);
  const path = `/coffer/v1/invites/${encodeURIComponent(inviteToken)}/`;
  const invite = await api.get<InviteResponse>(path);
  const email = normaliseEmail(options.email ?? invite.email);
  if (email !== invite.email.toLowerCase()) {
    throw new UserError(`this invite is for ${invite.email}, not ${email}`, 'accept it with the address it was sent to, or ask for a new invite');
  }
  ui.info(`Joining ${invite.organisationName} as ${email}${invite.role ? ` (${invite.role.name})` : ''}.`);
  const password = await obtainPassword(ui, {
    stdin: options.passwordStdin,
    message: 'Your Coffer password (choose one if you are new)',
    confirm: true,
    validate: checkNewPassword,
  });
  const material = await newMembershipMaterial({ organisationId: invite.organisationId, email, password, tokenName: tokenNameForThisMachine(), ui });
  const accepted = await api.post<NewMembershipResponse & { email: string; role: RoleRef | null }>(`${path}accept/`, {
    email,
    ...(options.fullName ? { fullName: options.fullName } : {}),
    loginHash: material.loginHash,
    keyring: material.keyring,
    token: material.tokenBody,
  });
  await completeNewMembership(
    ui,
    { ...accepted, url: api.baseUrl, email, role: accepted.role?.name ?? null, token: material.token, recoveryPhrase: material.recoveryPhrase },
    { store: options.save !== false, headline: `You joined ${accepted.organisationName}.`, notStored: 'The token was not stored (--no-save).' },
  );
}
