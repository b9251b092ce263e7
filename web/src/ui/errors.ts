import { PhaseProtocolError } from '../../../src/client/phase-protocol.js';
import { ApiError } from '../coffer-api.js';

/** What to show for a failed call: the server's own message where there is one. */
export function messageOf(error: unknown): string {
  if (error instanceof PhaseProtocolError) return error.serverMessage ?? error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The tab's token or session is no longer accepted (revoked, expired, password changed). */
export function isSignedOut(error: unknown): boolean {
  return (error instanceof PhaseProtocolError || error instanceof ApiError) && error.status === 401;
}

export const SIGNED_OUT_MESSAGE = "This tab's access has ended (its token was revoked or expired). Sign in again.";
