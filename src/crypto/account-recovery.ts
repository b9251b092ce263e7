/**
 * Account recovery with the recovery phrase (Coffer's own protocol, not Phase's). The phrase
 * derives the membership's keyring on the client (spec §2.3); the client then signs a statement
 * with the keyring's Ed25519 key, and the server checks it against the membership's identity key.
 * The statement names everything the server will store (the new login hash and the keyring wrapped
 * under the new password), so a signature cannot be reused to store anything else, and the moment
 * it was made, so a used or stale one is refused (the server keeps when credentials last changed).
 */
import type { SodiumBackend } from './backend.js';
import { fromHex, toHex, utf8Encode } from './encoding.js';
import { CryptoFormatError } from './errors.js';
import type { IdentityKeyring } from './keyring.js';

const STATEMENT_CONTEXT = 'coffer-account-recovery-v1';

/** What a recovery stores, as signed. Every field is one line: none may contain a line break. */
export interface RecoveryStatement {
  organisationId: string;
  email: string;
  /** ISO-8601 instant at which the client made the statement. */
  issuedAt: string;
  /** The new password's client-side login hash (hex). */
  loginHash: string;
  /** The keyring wrapped under the new password's device key (hex). */
  wrappedKeyring: string;
  wrappedRecovery: string;
  kdfParams: { opsLimit: number; memLimit: number };
}

/** The signed bytes: the context and each field on a line of its own, in a fixed order. */
function statementBytes(statement: RecoveryStatement): Uint8Array {
  const lines = [
    STATEMENT_CONTEXT,
    statement.organisationId,
    statement.email,
    statement.issuedAt,
    statement.loginHash,
    statement.wrappedKeyring,
    statement.wrappedRecovery,
    String(statement.kdfParams.opsLimit),
    String(statement.kdfParams.memLimit),
  ];
  if (lines.some((line) => typeof line !== 'string' || /[\r\n]/.test(line))) throw new CryptoFormatError('a recovery statement field is not a single line of text');
  return utf8Encode(lines.join('\n'));
}

export function createAccountRecovery(sodium: SodiumBackend) {
  /** hex(Ed25519 signature) of the statement by the membership's keyring. */
  function signRecoveryStatement(keyring: IdentityKeyring, statement: RecoveryStatement): string {
    return toHex(sodium.signDetached(statementBytes(statement), keyring.privateKey));
  }

  /** Whether `signatureHex` is the identity key's signature of the statement; false for any malformed input. */
  function verifyRecoveryStatement(identityKeyHex: string, statement: RecoveryStatement, signatureHex: unknown): boolean {
    if (typeof signatureHex !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signatureHex)) return false;
    let message: Uint8Array;
    try {
      message = statementBytes(statement);
    } catch (error) {
      if (error instanceof CryptoFormatError) return false;
      throw error;
    }
    return sodium.verifyDetached(fromHex(signatureHex, 'signature'), message, fromHex(identityKeyHex, 'identity key', 32));
  }

  return { signRecoveryStatement, verifyRecoveryStatement };
}
