// GET /service/secrets/tokens/ (crypto spec §4.3): what a token's holder needs to rebuild its key
// pair and unwrap its environments. Nothing here is plaintext secret material: the key share is
// wrapped under the token's wrap key (which only the token holds), seeds and salts are ph:v1 to the
// principal's key.
import type { Db } from '../../store/database.js';
import {
  findOrganisationName,
  findTokenKeyShare,
  listEnvironmentKeysOfPrincipal,
  type PrincipalEnvironmentKeyRow,
} from '../../store/client-protocol.js';
import type { AccessControl } from '../access.js';
import { DomainError } from '../errors.js';
import type { Principal } from '../principal.js';

export const TOKEN_EXPIRED_OR_DELETED = 'Token expired or deleted';

export interface SessionApp {
  id: string;
  name: string;
  encryption: 'SSE' | 'E2E';
  environmentKeys: PrincipalEnvironmentKeyRow[];
}

export interface ClientSession {
  principal: Principal;
  wrappedKeyShare: string;
  organisation: { id: string; name: string };
  apps: SessionApp[];
}

/** Phase answers 403 (not 401) for a bad token on this endpoint (spec §4.3). */
export function tokenRejected(): DomainError {
  return new DomainError('forbidden', TOKEN_EXPIRED_OR_DELETED);
}

export class ClientSessions {
  constructor(private readonly db: Db, private readonly access: AccessControl) {}

  async describe(principal: Principal): Promise<ClientSession> {
    const org = principal.organisationId;
    const access = await this.access.accountAccess(principal);
    // A removed member or deleted account keeps no session, whatever its token rows say.
    if (!access.live) throw tokenRejected();
    const token = principal.kind === 'member' ? { kind: 'user' as const, id: principal.tokenId } : { kind: 'service_account' as const, id: principal.tokenId };
    // Console sessions have no token and no key share: this endpoint is for token holders only.
    if (token.id === null) throw tokenRejected();
    const [wrappedKeyShare, name, rows] = await Promise.all([
      findTokenKeyShare(this.db, org, { kind: token.kind, id: token.id }),
      findOrganisationName(this.db, org),
      listEnvironmentKeysOfPrincipal(this.db, org, principal.kind === 'member' ? { memberId: principal.memberId } : { serviceAccountId: principal.serviceAccountId }),
    ]);
    if (wrappedKeyShare === undefined || name === undefined) throw tokenRejected();
    const apps = new Map<string, SessionApp>();
    for (const row of rows) {
      let app = apps.get(row.app_id);
      if (!app) apps.set(row.app_id, (app = { id: row.app_id, name: row.app_name, encryption: row.app_sse_enabled ? 'SSE' : 'E2E', environmentKeys: [] }));
      app.environmentKeys.push(row);
    }
    return { principal, wrappedKeyShare, organisation: { id: org, name }, apps: [...apps.values()] };
  }
}
