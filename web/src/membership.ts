// A new membership made in the page, as `coffer setup` and `coffer invites accept` make it (the
// same code: src/client/membership.ts) with Phase's parameters, and a first token for this tab.
import { PHASE_KDF_MODERATE, PHASE_KDF_SENSITIVE } from '../../src/crypto/browser.js';
import { checkNewPassword as checkPassword, deriveMembership, type MembershipMaterial } from '../../src/client/membership.js';
import { TOKEN_LIFETIME_MS, consoleTokenName } from './console-token.js';

export type { MembershipMaterial } from '../../src/client/membership.js';

/** The CLI's password rule, and the two entries of the form alike. */
export function checkNewPassword(password: string, confirmation: string): string | undefined {
  return checkPassword(password) ?? (password !== confirmation ? 'The two passwords differ.' : undefined);
}

export function newMembershipMaterial(options: { organisationId?: string; email: string; password: string }): Promise<MembershipMaterial> {
  return deriveMembership({
    ...options,
    tokenName: consoleTokenName(),
    tokenExpiresAt: new Date(Date.now() + TOKEN_LIFETIME_MS),
    kdf: { sensitive: PHASE_KDF_SENSITIVE, moderate: PHASE_KDF_MODERATE },
  });
}
