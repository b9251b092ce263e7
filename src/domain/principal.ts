// Who is calling. The HTTP layer resolves the bearer once per request (domain/auth.ts) and hands
// the domain a Principal and an Actor; the domain never sees headers or raw tokens.

export interface MemberPrincipal {
  readonly kind: 'member';
  readonly organisationId: string;
  readonly memberId: string;
  readonly userId: string;
  /** The PAT used, or null for a console session. */
  readonly tokenId: string | null;
}

export interface ServiceAccountPrincipal {
  readonly kind: 'service_account';
  readonly organisationId: string;
  readonly serviceAccountId: string;
  readonly tokenId: string;
}

export type Principal = MemberPrincipal | ServiceAccountPrincipal;

/** What events record about a request besides the principal (rest-api §1.11, §5.9). */
export interface Actor {
  readonly principal: Principal;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** The rate-limit bucket of a principal (rest-api §1.9). */
export function bucketOf(principal: Principal): string {
  return principal.kind === 'member' ? `user_${principal.memberId}` : `sa_${principal.serviceAccountId}`;
}

export function principalId(principal: Principal): string {
  return principal.kind === 'member' ? principal.memberId : principal.serviceAccountId;
}
