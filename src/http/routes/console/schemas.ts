// Shapes of the /coffer/v1 API, for the OpenAPI document. Validation happens in the domain, with
// messages that name the field (the app's validator compiler accepts everything).
import { errorSchema } from '../../views.js';

const hex = (length: number, description: string) => ({ type: 'string', pattern: `^[0-9a-fA-F]{${length}}$`, description });

export const kdfParamsSchema = {
  type: 'object',
  description: 'Argon2id cost of the device key (and login hash) this keyring was wrapped with',
  required: ['opsLimit', 'memLimit'],
  properties: { opsLimit: { type: 'integer', minimum: 1 }, memLimit: { type: 'integer', minimum: 8192 } },
} as const;

export const keyringInputSchema = {
  type: 'object',
  description: 'A member keyring made on the client for this organisation id (crypto spec §2.3); the server cannot open it',
  required: ['identityKey', 'wrappedKeyring', 'wrappedRecovery', 'kdfParams'],
  properties: {
    identityKey: hex(64, 'Ed25519 public key'),
    wrappedKeyring: { type: 'string', description: 'hex(encryptRaw(keyring JSON, device key))' },
    wrappedRecovery: { type: 'string', description: 'hex(encryptRaw(recovery phrase, device key))' },
    kdfParams: kdfParamsSchema,
  },
} as const;

/** A member's keyring wrapped again on the client, under a new password's device key. */
export const rewrappedKeyringSchema = {
  type: 'object',
  required: ['wrappedKeyring', 'wrappedRecovery', 'kdfParams'],
  properties: {
    wrappedKeyring: { type: 'string', description: 'hex(encryptRaw(keyring JSON, new device key))' },
    wrappedRecovery: { type: 'string', description: 'hex(encryptRaw(recovery phrase, new device key))' },
    kdfParams: kdfParamsSchema,
  },
} as const;

export const tokenInputSchema = {
  type: 'object',
  description: 'The public parts of a pss_user:v1 token minted on the client (crypto spec §3.2); never the bearer itself',
  required: ['name', 'identityKey', 'bearerHash', 'wrappedKeyShare'],
  properties: {
    name: { type: 'string', maxLength: 64 },
    identityKey: hex(64, "the member's X25519 (kx) public key, token part 3"),
    bearerHash: hex(64, 'SHA-256 (hex) of the bearer, token part 2'),
    wrappedKeyShare: hex(208, 'the server key share wrapped under the token wrap key'),
    expiresAt: { type: ['string', 'null'], format: 'date-time', description: 'absent or null: never expires' },
    loginHash: hex(64, "the account's login hash (as at sign-in): required when the caller is a token, not a session"),
  },
} as const;

export const organisationInputSchema = {
  type: 'object',
  required: ['id', 'name'],
  properties: {
    id: { type: 'string', format: 'uuid', description: 'chosen by the client: the keyring salt derives from it' },
    name: { type: 'string', maxLength: 64 },
  },
} as const;

export const userSchema = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' }, email: { type: 'string' }, fullName: { type: ['string', 'null'] } },
} as const;

export const roleRefSchema = {
  type: ['object', 'null'],
  properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' } },
} as const;

export const membershipSchema = {
  type: 'object',
  properties: {
    organisationId: { type: 'string', format: 'uuid' },
    organisationName: { type: 'string' },
    memberId: { type: 'string', format: 'uuid' },
    role: roleRefSchema,
  },
} as const;

export const newMembershipSchema = {
  type: 'object',
  properties: {
    organisationId: { type: 'string', format: 'uuid' },
    organisationName: { type: 'string' },
    userId: { type: 'string', format: 'uuid' },
    memberId: { type: 'string', format: 'uuid' },
    tokenId: { type: 'string', format: 'uuid', description: 'the registered personal access token' },
  },
} as const;

export const tokenSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    lastUsed: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const organisationIdQuery = {
  type: 'object',
  properties: {
    organisation_id: { type: 'string', format: 'uuid', description: 'required with a session; with a token, its own organisation (may be omitted)' },
  },
} as const;

export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [status, errorSchema]));
