// The personal access token a console tab works with: minted in the page, named so that it is
// recognisable in `coffer tokens list`, and as short-lived as a console session.

/** As long as a console session (12 h); signing out revokes it at once. */
export const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;

export function consoleTokenName(now = new Date()): string {
  return `console ${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
