import type { Selectable } from 'kysely';
import type { Immutable } from './accounts.table.js';

import type { Ciphertext } from '../crypto/index.js';

/** `ph:v1:...` ciphertexts under an environment key (an empty comment is stored as ""). */
export type { Ciphertext };

export type SecretType = 'secret' | 'sealed' | 'config';

export interface FoldersTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  environment_id: Immutable<string>;
  parent_id: Immutable<string | null>;
  name: Immutable<string>;
  /** Where the folder sits, e.g. "/a" for the folder "b" of "/a/b". */
  path: Immutable<string>;
  created_at: Immutable<Date>;
}

export interface TagsTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  name: Immutable<string>;
  color: string;
  created_at: Immutable<Date>;
}

export interface SecretsTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  environment_id: Immutable<string>;
  folder_id: string | null;
  path: string;
  key_digest: string;
  key: Ciphertext;
  value: Ciphertext;
  comment: Ciphertext;
  type: SecretType;
  version: number;
  created_at: Immutable<Date>;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface SecretTagsTable {
  secret_id: Immutable<string>;
  tag_id: Immutable<string>;
  position: number;
}

export interface PersonalOverridesTable {
  id: Immutable<string>;
  organisation_id: Immutable<string>;
  secret_id: Immutable<string>;
  member_id: Immutable<string>;
  value: Ciphertext;
  is_active: boolean;
  created_at: Immutable<Date>;
  updated_at: Date;
}

export type SecretRow = Selectable<SecretsTable>;
export type PersonalOverrideRow = Selectable<PersonalOverridesTable>;
export type FolderRow = Selectable<FoldersTable>;
