// Phase's client protocol (crypto spec §4) and Coffer's E2EE app extension, built on the domain the
// rest of the server uses: the same access decisions, read path, write transactions and audit trail.
import type { Domain } from '../index.js';
import { E2eeApps } from './e2ee.js';
import { E2eeGrants } from './e2ee-grants.js';
import { ClientSecrets } from './secrets.js';
import { ClientSessions } from './session.js';

export interface ClientProtocol {
  readonly sessions: ClientSessions;
  readonly secrets: ClientSecrets;
  readonly e2ee: E2eeApps;
  readonly e2eeGrants: E2eeGrants;
}

export function createClientProtocol(domain: Domain): ClientProtocol {
  const { deps } = domain;
  const readPath = domain.secrets.readPath;
  return {
    sessions: new ClientSessions(deps.db, deps.access),
    secrets: new ClientSecrets(deps, readPath),
    e2ee: new E2eeApps(deps, readPath),
    e2eeGrants: new E2eeGrants(deps),
  };
}

export { ClientSecretSelection, type ClientListFilters, type ClientSecretItem } from './secrets.js';
export type { ClientSession, SessionApp } from './session.js';
export { TOKEN_EXPIRED_OR_DELETED, tokenRejected } from './session.js';
export type { CreatedE2eeApp, Recipient, ServerKey } from './e2ee.js';
export type { E2eeGrantResult } from './e2ee-grants.js';
