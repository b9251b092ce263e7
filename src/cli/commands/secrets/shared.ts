// What the secrets commands share: the JSON description of where they acted, and finding a secret
// by name (at one path, or at every path when it is unambiguous).
import { UserError } from '../../errors.js';
import { describeTarget, type Secret, type SecretsClient } from '../../secrets-client.js';
import { visible } from '../../table.js';

export function where(client: SecretsClient, path: string | undefined) {
  return {
    url: client.url,
    app: { id: client.app.id, name: client.app.name },
    environment: { id: client.env.id, name: client.env.name },
    encryption: client.encryption,
    path: path ?? null,
  };
}

/** Keys are stored upper-cased (rest-api §5.1): every Phase client upper-cases names it is given. */
export function normaliseKey(key: string): string {
  if (key.trim() === '') throw new UserError('a secret name cannot be empty', 'pass a name such as DATABASE_URL');
  return key.toUpperCase();
}

export function secretsNamed(secrets: readonly Secret[], key: string): Secret[] {
  return secrets.filter((s) => s.key === key);
}

/** The one secret named `key` among `secrets`; several paths without --path is an error. */
export function oneNamed(client: SecretsClient, secrets: readonly Secret[], key: string, path: string | undefined): Secret {
  const found = secretsNamed(secrets, key);
  if (found.length === 0) {
    throw new UserError(`there is no secret ${visible(key)} in ${describeTarget(client, path)}`, path ? 'check --path; `coffer secrets list` shows what there is' : '`coffer secrets list` shows what there is');
  }
  if (found.length > 1) {
    throw new UserError(`${visible(key)} exists at several paths in ${describeTarget(client)}: ${found.map((s) => visible(s.path)).join(', ')}`, 'pass --path to choose one');
  }
  return found[0]!;
}

/** `/` and `/backend` sort before `/backend/api`; keys alphabetically within a path. */
export function sortSecrets<T extends { path: string; key: string }>(secrets: T[]): T[] {
  return secrets.sort((a, b) => (a.path === b.path ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.path < b.path ? -1 : 1));
}

/**
 * Bytes read from a file or standard input as UTF-8 text, refused when they are not UTF-8 (a
 * Latin-1 file or binary data would otherwise be stored with U+FFFD in place of the bytes).
 */
export function utf8Text(bytes: Uint8Array, what: string, hint: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new UserError(`${what} is not UTF-8 text`, hint);
  }
}
