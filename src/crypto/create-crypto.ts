/**
 * Builds every higher-level crypto function from one SodiumBackend. The server and the CLI use the
 * native instance exported by index.ts; the web console builds its own from the WASM backend
 * (browser.ts). Same source, same bytes.
 */
import { createAccountRecovery } from './account-recovery.js';
import type { SodiumBackend } from './backend.js';
import { toHex, utf8EncodeInto } from './encoding.js';
import { createEnvironmentKeys } from './environment-cipher.js';
import { MasterKeyring, masterKeyId, type MasterKeyringOptions, type MasterKeySet } from './envelope.js';
import { asCiphertext, asOptionalCiphertext, parseCiphertext, phaseFormatsFor } from './formats.js';
import { createKeyrings } from './keyring.js';
import { createTokens } from './tokens.js';

export function createCrypto(backend: SodiumBackend) {
  const formats = phaseFormatsFor(backend);
  const auditMac = createAuditMac(backend);
  const environments = createEnvironmentKeys(backend, formats);
  const keyrings = createKeyrings(backend, formats);
  const tokens = createTokens(backend, formats, environments);
  const recovery = createAccountRecovery(backend);

  return {
    backend,

    // Phase formats (spec §1)
    randomKeyHex: formats.randomKeyHex,
    encryptRaw: formats.encryptRaw,
    decryptRaw: formats.decryptRaw,
    encryptRawHex: formats.encryptRawHex,
    decryptRawHex: formats.decryptRawHex,
    encryptRawBase64: formats.encryptRawBase64,
    decryptRawBase64: formats.decryptRawBase64,
    kxKeyPair: formats.kxKeyPair,
    kxKeyPairFromSeed: formats.kxKeyPairFromSeed,
    publicKeyHexFromSeed: formats.publicKeyHexFromSeed,
    kxPublicKeyOf: formats.kxPublicKeyOf,
    encryptAsymmetric: formats.encryptAsymmetric,
    decryptAsymmetric: formats.decryptAsymmetric,
    parseCiphertext,
    asCiphertext,
    asOptionalCiphertext,
    keyDigest: formats.keyDigest,
    ed25519ToKx: formats.ed25519ToKx,
    ed25519PublicKeyToKx: formats.ed25519PublicKeyToKx,
    isEd25519PublicKey: formats.isEd25519PublicKey,
    isX25519PublicKey: formats.isX25519PublicKey,
    splitSecret: formats.splitSecret,
    wrapShare: formats.wrapShare,
    reconstructSecret: formats.reconstructSecret,

    // Environments and the read path (spec §2.5, DESIGN §5)
    ...environments,

    // Keyrings (spec §2.3, §2.4)
    ...keyrings,

    // Tokens (spec §3)
    ...tokens,

    // Account recovery with the recovery phrase (docs/crypto.md "Account recovery")
    ...recovery,

    /** Keyed BLAKE2b-256, hex: the MAC of the hash-chained audit trail (key: 32 random bytes per organisation). */
    auditMac,

    // Master-key envelope (DESIGN §1)
    masterKeyring: (keys: MasterKeySet, options?: MasterKeyringOptions) => new MasterKeyring(backend, keys, options),
    masterKeyId: (key: Uint8Array) => masterKeyId(backend, key),
  };
}

export type CofferCrypto = ReturnType<typeof createCrypto>;

/**
 * Keyed BLAKE2b-256, hex: the MAC of the hash-chained audit trail (key: 32 random bytes per
 * organisation). Computed for every event, reads included, so a text message is encoded into a
 * buffer kept for the purpose (zeroed after use) rather than into a new one each time.
 */
function createAuditMac(backend: SodiumBackend): (key: Uint8Array, message: Uint8Array | string) => string {
  let scratch = new Uint8Array(4096);
  return (key, message) => {
    if (typeof message !== 'string') return toHex(backend.generichash(32, message, key));
    // UTF-8 takes at most three bytes per UTF-16 code unit.
    if (scratch.length < 3 * message.length) scratch = new Uint8Array(3 * message.length);
    const written = utf8EncodeInto(message, scratch);
    try {
      return toHex(backend.generichash(32, scratch.subarray(0, written), key));
    } finally {
      scratch.fill(0, 0, written);
    }
  };
}
