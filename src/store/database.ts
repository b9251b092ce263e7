// The typed view of the whole schema (see migrations/ for the SQL).
import type { Kysely, Transaction } from 'kysely';
import type {
  InvitesTable, MembersTable, OrganisationsTable, RolesTable, ServerStateTable, ServiceAccountTokensTable,
  ServiceAccountsTable, SessionsTable, UserTokensTable, UsersTable,
} from './accounts.table.js';
import type {
  AppMembersTable, AppsTable, EnvironmentKeysTable, EnvironmentsTable, ServerEnvironmentKeysTable,
} from './apps.table.js';
import type { AuditHeadsTable, EventsTable } from './events.table.js';
import type {
  FoldersTable, PersonalOverridesTable, SecretTagsTable, SecretsTable, TagsTable,
} from './secrets.table.js';

export interface Database {
  organisations: OrganisationsTable;
  users: UsersTable;
  roles: RolesTable;
  members: MembersTable;
  service_accounts: ServiceAccountsTable;
  user_tokens: UserTokensTable;
  service_account_tokens: ServiceAccountTokensTable;
  apps: AppsTable;
  app_members: AppMembersTable;
  environments: EnvironmentsTable;
  server_environment_keys: ServerEnvironmentKeysTable;
  environment_keys: EnvironmentKeysTable;
  folders: FoldersTable;
  tags: TagsTable;
  secrets: SecretsTable;
  secret_tags: SecretTagsTable;
  personal_overrides: PersonalOverridesTable;
  events: EventsTable;
  audit_heads: AuditHeadsTable;
  invites: InvitesTable;
  sessions: SessionsTable;
  server_state: ServerStateTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Functions that work in or out of a transaction take this. */
export type Executor = Kysely<Database> | Transaction<Database>;
