// Pieces several account commands share: the output of a new membership (setup, orgs create,
// invites accept) and the default token name.
import os from 'node:os';
import type { NewMembershipResponse } from '../api.js';
import { displayPath } from '../credentials.js';
import type { Ui } from '../ui.js';
import { replaceStoredLogin } from './stored-login.js';

export interface NewMembershipOutput {
  url: string;
  organisationId: string;
  organisationName: string;
  userId: string;
  memberId: string;
  email: string;
  role: string | null;
  tokenId: string;
  /** Full pss_user:v1 token: shown once. */
  token: string;
  /** The 24 words of this membership's keyring: shown once. */
  recoveryPhrase: string;
}

export function tokenNameForThisMachine(): string {
  return `coffer CLI on ${os.hostname().slice(0, 40) || 'this machine'}`;
}

/**
 * The end of setup, orgs create and invites accept: the membership the server made, stored as the
 * CLI login when `store` says so, then reported.
 */
export async function completeNewMembership(
  ui: Ui,
  created: NewMembershipResponse & { url: string; email: string; role: string | null; token: string; recoveryPhrase: string },
  options: { store: boolean; headline: string; notStored: string },
): Promise<void> {
  const output: NewMembershipOutput = {
    url: created.url,
    organisationId: created.organisationId,
    organisationName: created.organisationName,
    userId: created.userId,
    memberId: created.memberId,
    email: created.email,
    role: created.role,
    tokenId: created.tokenId,
    token: created.token,
    recoveryPhrase: created.recoveryPhrase,
  };
  const saved = options.store
    ? await replaceStoredLogin(
        {
          url: output.url,
          token: output.token,
          tokenId: output.tokenId,
          email: output.email,
          userId: output.userId,
          organisationId: output.organisationId,
          organisationName: output.organisationName,
          minted: true,
        },
        ui,
      )
    : undefined;
  reportNewMembership(ui, output, { saved, headline: options.headline, notStored: options.notStored });
}

/** --json: exactly one document. Otherwise a calm summary with the two one-time secrets. */
function reportNewMembership(ui: Ui, output: NewMembershipOutput, options: { saved: string | undefined; headline: string; notStored: string }): void {
  if (ui.json) {
    ui.printJson(output);
    return;
  }
  ui.success(options.headline);
  ui.note(
    [
      `Organisation  ${output.organisationName}`,
      `              ${output.organisationId}`,
      `You           ${output.email}${output.role ? ` (${output.role})` : ''}`,
      `User id       ${output.userId}`,
      `Server        ${output.url}`,
    ].join('\n'),
    'Summary',
  );
  ui.secret('Personal access token (shown only now)', output.token);
  ui.note(wrapWords(output.recoveryPhrase), 'Recovery phrase');
  ui.warn(
    'Write the recovery phrase down and keep it offline. With your password it is the only way back into your keys for this organisation; ' +
      'Coffer cannot recover it for you.',
  );
  ui.outro(options.saved ? `Signed in: the token is stored in ${displayPath(options.saved)}. Try \`coffer whoami\`.` : `Done. ${options.notStored}`);
}

function wrapWords(phrase: string): string {
  const words = phrase.split(' ');
  const lines: string[] = [];
  // Four words a line keeps the box within 60 columns.
  for (let i = 0; i < words.length; i += 4) {
    lines.push(words.slice(i, i + 4).map((w, j) => `${String(i + j + 1).padStart(2)}. ${w.padEnd(9)}`).join(' ').trimEnd());
  }
  return lines.join('\n');
}
