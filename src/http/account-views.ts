// Wire shapes of the organisation-level resources (rest-api §3.4-§3.7): service accounts, tokens,
// roles, members, invites. camelCase, timestamps as in views.ts, optional values as null.
import type { Role } from '../store/accounts.table.js';
import type { InviteRow } from '../store/invites.js';
import type { MemberRow } from '../store/members.js';
import type { ServiceAccountRow, ServiceAccountTokenRow } from '../store/service-accounts.js';
import type { AppAccessView } from '../domain/individual-access.js';
import type { MemberAccess } from '../domain/members.js';
import { rolePermissionsView } from '../domain/roles.js';
import type { CreatedToken, ServiceAccountDetail } from '../domain/service-accounts.js';
import { timestamp } from './views.js';

function roleRef(id: string | null, name: string | null) {
  return id !== null && name !== null ? { id, name } : null;
}

export function serviceAccountView(account: ServiceAccountRow) {
  return {
    id: account.id,
    name: account.name,
    role: roleRef(account.role_id, account.role_name),
    createdAt: timestamp(account.created_at),
    updatedAt: timestamp(account.updated_at),
  };
}

export function tokenSummaryView(token: ServiceAccountTokenRow) {
  return { id: token.id, name: token.name, createdAt: timestamp(token.created_at), expiresAt: token.expires_at ? timestamp(token.expires_at) : null };
}

export function appsAccessView(apps: AppAccessView[]) {
  return apps.map((app) => ({ id: app.id, name: app.name, environments: app.environments.map((e) => ({ id: e.id, name: e.name, envType: e.envType })) }));
}

export function serviceAccountDetailView(detail: ServiceAccountDetail) {
  return { ...serviceAccountView(detail.account), tokens: detail.tokens.map(tokenSummaryView), apps: appsAccessView(detail.apps) };
}

/** The one response that carries a token's secret parts (§10.3, §10.7). */
export function createdTokenView(created: CreatedToken) {
  return { ...tokenSummaryView(created.row), token: created.token, bearerToken: `ServiceAccount ${created.bearer}` };
}

export function roleSummaryView(role: Role) {
  return { id: role.id, name: role.name, description: role.description, color: role.color, isDefault: role.is_default, createdAt: timestamp(role.created_at) };
}

export function roleDetailView(role: Role) {
  return { ...roleSummaryView(role), permissions: rolePermissionsView(role) };
}

export function memberView(member: MemberRow) {
  return {
    id: member.id,
    // Coffer accounts have no separate user name; the e-mail address is the login name.
    username: member.email,
    fullName: member.full_name === '' ? null : member.full_name,
    email: member.email,
    role: roleRef(member.role_id, member.role_name),
    createdAt: timestamp(member.created_at),
    updatedAt: timestamp(member.updated_at),
  };
}

export function memberAccessView(access: MemberAccess) {
  return { ...memberView(access.member), apps: appsAccessView(access.apps) };
}

export function inviteView(invite: InviteRow) {
  const invitedBy =
    invite.inviter_member_email !== null
      ? { type: 'member', email: invite.inviter_member_email }
      : invite.inviter_service_account_name !== null
        ? { type: 'service_account', name: invite.inviter_service_account_name }
        : null;
  return {
    id: invite.id,
    inviteeEmail: invite.email,
    role: roleRef(invite.role_id, invite.role_name),
    invitedBy,
    createdAt: timestamp(invite.created_at),
    expiresAt: timestamp(invite.expires_at),
    valid: invite.valid,
  };
}

const ts = { type: 'string', description: 'ISO-8601 UTC timestamp' } as const;
const nullableRole = { type: ['object', 'null'], properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' } } } as const;

export const serviceAccountSchema = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, role: nullableRole, createdAt: ts, updatedAt: ts },
} as const;

const tokenSummarySchema = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, createdAt: ts, expiresAt: { type: ['string', 'null'] } },
} as const;

export const createdTokenSchema = {
  type: 'object',
  properties: {
    ...tokenSummarySchema.properties,
    token: { type: 'string', description: 'pss_service:v2:... (shown once)' },
    bearerToken: { type: 'string', description: '`ServiceAccount <token>` for the REST API (shown once)' },
  },
} as const;

export const appsAccessSchema = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      name: { type: 'string' },
      environments: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, envType: { type: 'string' } } } },
    },
  },
} as const;

export const serviceAccountDetailSchema = {
  type: 'object',
  properties: { ...serviceAccountSchema.properties, tokens: { type: 'array', items: tokenSummarySchema }, apps: appsAccessSchema },
} as const;

export const roleSummarySchema = {
  type: 'object',
  properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, description: { type: 'string' }, color: { type: 'string' }, isDefault: { type: 'boolean' }, createdAt: ts },
} as const;

export const roleDetailSchema = {
  type: 'object',
  properties: {
    ...roleSummarySchema.properties,
    permissions: {
      type: 'object',
      properties: { permissions: { type: ['object', 'null'] }, appPermissions: { type: ['object', 'null'] }, globalAccess: { type: 'boolean' } },
    },
  },
} as const;

export const memberSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid', description: 'Membership id' },
    username: { type: 'string' },
    fullName: { type: ['string', 'null'] },
    email: { type: 'string' },
    role: nullableRole,
    createdAt: ts,
    updatedAt: ts,
  },
} as const;

export const inviteSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', format: 'uuid' },
    inviteeEmail: { type: 'string' },
    role: nullableRole,
    invitedBy: { type: ['object', 'null'] },
    createdAt: ts,
    expiresAt: ts,
    valid: { type: 'boolean' },
  },
} as const;
