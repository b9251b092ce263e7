// Environment key material (crypto spec §2.5, §2.6): creating seeds and salts, the server's own
// sealed copy for SSE apps, grants wrapped to principals, and the process-wide cache of unwrapped
// environment ciphers the read and write paths use.
import { randomUUID } from 'node:crypto';
import {
  ed25519PublicKeyToKx,
  environmentCipher,
  generateEnvironmentSecrets,
  wrapEnvironmentSecrets,
  type EnvironmentCipher,
  type MasterKeyring,
} from '../crypto/index.js';
import type { Db, Executor } from '../store/database.js';
import { findServerEnvironmentKey, type EnvironmentKeyInsert } from '../store/environment-keys.js';

export interface EnvironmentSecrets {
  seedHex: string;
  saltHex: string;
  /** hex(Env_pk) */
  identityKey: string;
}

/** A principal that receives an environment grant: identity_key is its Ed25519 public key (hex). */
export type Grantee =
  | { memberId: string; identityKey: string }
  | { serviceAccountId: string; identityKey: string };

export function sealContext(organisationId: string, environmentId: string, part: 'seed' | 'salt'): string {
  return `org:${organisationId}/env:${environmentId}/${part}`;
}

export class EnvironmentKeys {
  readonly #ciphers = new Map<string, Promise<EnvironmentCipher | undefined>>();

  constructor(private readonly db: Db, private readonly masterKeyring: MasterKeyring, private readonly maxCiphers = 10_000) {}

  generate(): EnvironmentSecrets {
    return generateEnvironmentSecrets();
  }

  /** The server's copy of an SSE environment's seed and salt, sealed under the master key. */
  serverCopy(organisationId: string, environmentId: string, secrets: EnvironmentSecrets): { wrapped_seed: string; wrapped_salt: string } {
    return {
      wrapped_seed: this.masterKeyring.seal('env-keys', sealContext(organisationId, environmentId, 'seed'), secrets.seedHex),
      wrapped_salt: this.masterKeyring.seal('env-keys', sealContext(organisationId, environmentId, 'salt'), secrets.saltHex),
    };
  }

  /** Rewraps a server copy under the active master key (key rotation). */
  async rewrapServerCopy(organisationId: string, environmentId: string, row: { wrapped_seed: string; wrapped_salt: string }) {
    return {
      wrapped_seed: await this.masterKeyring.rewrap(row.wrapped_seed, 'env-keys', sealContext(organisationId, environmentId, 'seed')),
      wrapped_salt: await this.masterKeyring.rewrap(row.wrapped_salt, 'env-keys', sealContext(organisationId, environmentId, 'salt')),
    };
  }

  /** EnvironmentKey rows granting `grantees` access (seed and salt wrapped to each one's kx key). */
  grants(organisationId: string, environmentId: string, secrets: EnvironmentSecrets, grantees: readonly Grantee[], at = new Date()): EnvironmentKeyInsert[] {
    return grantees.map((grantee) => {
      const wrapped = wrapEnvironmentSecrets(secrets, ed25519PublicKeyToKx(grantee.identityKey));
      return {
        id: randomUUID(),
        organisation_id: organisationId,
        environment_id: environmentId,
        member_id: 'memberId' in grantee ? grantee.memberId : null,
        service_account_id: 'serviceAccountId' in grantee ? grantee.serviceAccountId : null,
        identity_key: secrets.identityKey,
        wrapped_seed: wrapped.wrappedSeed,
        wrapped_salt: wrapped.wrappedSalt,
        created_at: at,
        updated_at: at,
      };
    });
  }

  /** The seed and salt of an SSE environment, opened from the server's copy; undefined for E2EE. */
  async secretsOf(environmentId: string, db: Executor = this.db): Promise<EnvironmentSecrets | undefined> {
    const row = await findServerEnvironmentKey(db, environmentId);
    if (!row) return undefined;
    const org = row.organisation_id;
    const seedHex = await this.masterKeyring.openText(row.wrapped_seed, 'env-keys', sealContext(org, environmentId, 'seed'));
    const saltHex = await this.masterKeyring.openText(row.wrapped_salt, 'env-keys', sealContext(org, environmentId, 'salt'));
    const cipher = environmentCipher(seedHex, saltHex);
    const identityKey = cipher.publicKeyHex;
    cipher.dispose();
    return { seedHex, saltHex, identityKey };
  }

  /**
   * The cipher of an SSE environment (undefined for E2EE apps), unwrapped once per process. A seed
   * never changes for the life of an environment, so the cache needs no revision check.
   */
  cipherFor(environmentId: string): Promise<EnvironmentCipher | undefined> {
    let cipher = this.#ciphers.get(environmentId);
    if (!cipher) {
      if (this.#ciphers.size >= this.maxCiphers) this.#evictOldest();
      cipher = this.secretsOf(environmentId).then((secrets) =>
        secrets ? environmentCipher(secrets.seedHex, secrets.saltHex) : undefined,
      );
      cipher.then(
        (c) => {
          // An E2EE environment may later get a server copy (SSE enablement): do not remember "none".
          if (!c) this.#ciphers.delete(environmentId);
        },
        () => this.#ciphers.delete(environmentId),
      );
      this.#ciphers.set(environmentId, cipher);
    }
    return cipher;
  }

  /** A cipher for a brand-new environment, registered without a round trip to the store. */
  remember(environmentId: string, secrets: EnvironmentSecrets): void {
    this.#ciphers.set(environmentId, Promise.resolve(environmentCipher(secrets.seedHex, secrets.saltHex)));
  }

  /** Drops an environment's cipher (after the environment is deleted). */
  forget(environmentId: string): void {
    const cipher = this.#ciphers.get(environmentId);
    this.#ciphers.delete(environmentId);
    void cipher?.then((c) => c?.dispose(), () => {});
  }

  #evictOldest(): void {
    const oldest = this.#ciphers.keys().next();
    if (!oldest.done) this.forget(oldest.value);
  }
}
