import { PhaseProtocolError } from '../../../src/client/phase-protocol.js';

/** What to show for a failed call: the server's own message where there is one. */
export function messageOf(error: unknown): string {
  if (error instanceof PhaseProtocolError) return error.serverMessage ?? error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
