// A new membership made in the page, as `coffer setup` and `coffer invites accept` make it (the
// same code: src/client/membership.ts) with Phase's parameters, and a first token for this tab.
import { PHASE_KDF_MODERATE, PHASE_KDF_SENSITIVE } from '../../src/crypto/browser.js';
import { deriveMembership, type MembershipMaterial } from '../../src/client/membership.js';
import { TOKEN_LIFETIME_MS, consoleTokenName } from './console-token.js';

export type { MembershipMaterial } from '../../src/client/membership.js';

export const MIN_PASSWORD_LENGTH = 8;

export function checkNewPassword(password: string, confirmation: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password !== confirmation) return 'The two passwords differ.';
  return undefined;
}

export function newMembershipMaterial(options: { organisationId?: string; email: string; password: string }): Promise<MembershipMaterial> {
  return deriveMembership({
    ...options,
    tokenName: consoleTokenName(),
    tokenExpiresAt: new Date(Date.now() + TOKEN_LIFETIME_MS),
    kdf: { sensitive: PHASE_KDF_SENSITIVE, moderate: PHASE_KDF_MODERATE },
  });
}
