// The five default roles every organisation has (rest-api Appendix A), and the permission
// classes and actions a custom role may use (§11.6). Data carried over from the Phase server.

export type Action = 'create' | 'read' | 'update' | 'delete';
export type PermissionMap = Record<string, Action[]>;

export interface RoleDefinition {
  name: string;
  description: string;
  permissions: PermissionMap;
  appPermissions: PermissionMap;
  globalAccess: boolean;
}

const CRUD: Action[] = ['create', 'read', 'update', 'delete'];

export const ORG_PERMISSION_CLASSES = [
  'Apps', 'Billing', 'ExternalIdentities', 'IntegrationCredentials', 'LogStreams', 'Logs', 'MemberPersonalAccessTokens',
  'Members', 'NetworkAccessPolicies', 'Organisation', 'Roles', 'SCIM', 'SSO', 'ServiceAccountTokens', 'ServiceAccounts', 'Teams',
] as const;

export const APP_PERMISSION_CLASSES = [
  'DynamicSecretLeases', 'EncryptionMode', 'Environments', 'Integrations', 'Lockbox', 'Logs', 'Members', 'RotatingSecrets',
  'Secrets', 'ServiceAccounts', 'Teams', 'Tokens',
] as const;

/** Actions each class accepts; every class allows CRUD except org Logs (read) and app EncryptionMode (read, update). */
export function validActions(scope: 'org' | 'app', resourceClass: string): Action[] {
  if (scope === 'org' && resourceClass === 'Logs') return ['read'];
  if (scope === 'app' && resourceClass === 'EncryptionMode') return ['read', 'update'];
  return CRUD;
}

const ownerAndAdminApp: PermissionMap = {
  Environments: CRUD, Secrets: CRUD, DynamicSecretLeases: CRUD, RotatingSecrets: CRUD, Lockbox: CRUD, Logs: CRUD, Tokens: CRUD,
  Members: CRUD, ServiceAccounts: CRUD, Integrations: CRUD, EncryptionMode: ['read', 'update'], Teams: CRUD,
};

export const DEFAULT_ROLES: readonly RoleDefinition[] = [
  {
    name: 'Owner',
    description: 'The organisation owner, limited to a single user, with full access to all resources and actions.',
    permissions: {
      Organisation: CRUD, Billing: CRUD, Apps: CRUD, Members: CRUD, MemberPersonalAccessTokens: CRUD, ServiceAccounts: CRUD,
      ServiceAccountTokens: CRUD, ExternalIdentities: CRUD, Roles: CRUD, IntegrationCredentials: CRUD, NetworkAccessPolicies: CRUD,
      Logs: ['read'], SSO: CRUD, Teams: CRUD, SCIM: CRUD, LogStreams: CRUD,
    },
    appPermissions: ownerAndAdminApp,
    globalAccess: true,
  },
  {
    name: 'Admin',
    description: 'Administrative users with broad access to resources and global access to all Apps and Environments.',
    permissions: {
      Organisation: ['read', 'update'], Billing: CRUD, Apps: CRUD, Members: CRUD, MemberPersonalAccessTokens: CRUD, ServiceAccounts: CRUD,
      ServiceAccountTokens: CRUD, ExternalIdentities: CRUD, Roles: CRUD, IntegrationCredentials: CRUD, NetworkAccessPolicies: CRUD,
      Logs: ['read'], SSO: CRUD, Teams: CRUD, SCIM: CRUD, LogStreams: CRUD,
    },
    appPermissions: ownerAndAdminApp,
    globalAccess: true,
  },
  {
    name: 'Manager',
    description:
      'Management users with broad access to environments, secrets, and service accounts at the organisation level. Requires explicit access to Apps and Environments.',
    permissions: {
      Organisation: ['read'], Billing: CRUD, Apps: CRUD, Members: CRUD, ServiceAccounts: CRUD, ServiceAccountTokens: CRUD,
      ExternalIdentities: CRUD, Roles: CRUD, IntegrationCredentials: CRUD, NetworkAccessPolicies: CRUD, Logs: ['read'], SSO: [],
      Teams: CRUD, SCIM: [], LogStreams: [],
    },
    appPermissions: {
      Environments: ['read', 'create', 'update'], Secrets: CRUD, DynamicSecretLeases: CRUD, RotatingSecrets: CRUD, Lockbox: CRUD,
      Logs: CRUD, Tokens: CRUD, Members: CRUD, ServiceAccounts: CRUD, Integrations: CRUD, EncryptionMode: ['read', 'update'], Teams: CRUD,
    },
    globalAccess: false,
  },
  {
    name: 'Developer',
    description: 'Development users with limited organisation-level permissions. Requires explicit access to Apps and Environments.',
    permissions: {
      Organisation: [], Billing: [], Apps: ['read'], Members: ['read'], ServiceAccounts: [], ServiceAccountTokens: [],
      ExternalIdentities: [], Roles: ['read'], IntegrationCredentials: ['create', 'read', 'update'], NetworkAccessPolicies: ['read'],
      Logs: ['read'], SSO: [], Teams: ['read'], SCIM: [], LogStreams: [],
    },
    appPermissions: {
      Environments: ['read', 'create', 'update'], Secrets: CRUD, DynamicSecretLeases: ['create', 'read'], RotatingSecrets: ['read'],
      Lockbox: CRUD, Logs: ['read'], Tokens: ['read', 'create'], Members: ['read'], ServiceAccounts: ['create'], Integrations: CRUD,
      EncryptionMode: ['read', 'update'], Teams: ['read'],
    },
    globalAccess: false,
  },
  {
    name: 'Service',
    description:
      'Default role for Service Accounts, providing programmatic access to secrets without access to other organisation or app resources.',
    permissions: {
      Organisation: [], Billing: [], Apps: ['create', 'read', 'update'], Members: ['read'], ServiceAccounts: ['read'],
      ServiceAccountTokens: ['read'], ExternalIdentities: ['read'], Roles: ['read'], IntegrationCredentials: ['read'],
      NetworkAccessPolicies: ['read'], Logs: [], SSO: [], Teams: [], SCIM: [], LogStreams: [],
    },
    appPermissions: {
      // Appendix A lists this role's environment actions with read first (the others list CRUD).
      Environments: ['read', 'create', 'update', 'delete'], Secrets: CRUD, DynamicSecretLeases: ['create', 'read'], RotatingSecrets: ['read'], Lockbox: [], Logs: [],
      Tokens: [], Members: ['read'], ServiceAccounts: ['read'], Integrations: ['read'], EncryptionMode: ['read'], Teams: ['read'],
    },
    globalAccess: false,
  },
];
