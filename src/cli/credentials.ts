// The stored login: one personal access token and the server it belongs to, in
// $XDG_CONFIG_HOME/coffer/credentials.json (else ~/.config/coffer/credentials.json), mode 0600.
// COFFER_URL and COFFER_TOKEN override it, so CI needs no file at all.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseToken, TokenFormatError } from '../crypto/index.js';
import { normaliseBaseUrl } from './api.js';
import { UserError } from './errors.js';

export interface StoredCredentials {
  url: string;
  /** Full pss_user:v1 token. */
  token: string;
  tokenId: string | null;
  email: string;
  userId: string;
  organisationId: string;
  organisationName: string;
  /** Minted by this CLI (login with a password, setup, orgs create, invites accept): nothing else holds it. */
  minted?: boolean;
}

export interface Account {
  url: string;
  token: string;
  /** Where the token came from. */
  source: 'environment' | 'file';
  stored: StoredCredentials | undefined;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'coffer');
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), 'credentials.json');
}

/** A path for messages: the home directory shown as ~. */
export function displayPath(file: string): string {
  const home = os.homedir();
  return file.startsWith(`${home}${path.sep}`) ? `~${file.slice(home.length)}` : file;
}

export async function readCredentials(): Promise<StoredCredentials | undefined> {
  const file = credentialsPath();
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${displayPath(file)}: ${(error as Error).message}`, 'fix its permissions, or delete it and run `coffer login`');
  }
  try {
    const value = JSON.parse(text) as StoredCredentials;
    if (typeof value.url !== 'string' || typeof value.token !== 'string') throw new Error('missing url or token');
    return value;
  } catch {
    throw new UserError(`${displayPath(file)} is not a valid credentials file`, 'delete it and run `coffer login` again');
  }
}

/** Written to a temporary file with mode 0600 and renamed over the old one. */
export async function writeCredentials(credentials: StoredCredentials): Promise<string> {
  const file = credentialsPath();
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await fs.chmod(temporary, 0o600);
  await fs.rename(temporary, file);
  return file;
}

export async function deleteCredentials(): Promise<boolean> {
  try {
    await fs.unlink(credentialsPath());
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function checkUserToken(token: string, where: string): string {
  const trimmed = token.trim();
  try {
    const parsed = parseToken(trimmed);
    if (parsed.prefix !== 'pss_user') throw new UserError(`${where} is a service-account token`, 'these commands act as a person: use a personal access token (pss_user:v1:...)');
  } catch (error) {
    if (error instanceof TokenFormatError) throw new UserError(`${where} is not a Coffer token: ${error.message}`);
    throw error;
  }
  return trimmed;
}

/**
 * The account commands act as: COFFER_TOKEN (with --url or COFFER_URL, else the stored URL), or the
 * stored login. `urlOption` is --url, which commander already fills from COFFER_URL.
 */
export async function resolveAccount(urlOption: string | undefined): Promise<Account> {
  const stored = await readCredentials();
  const envToken = process.env.COFFER_TOKEN?.trim();
  if (envToken) {
    const url = urlOption ?? stored?.url;
    if (!url) throw new UserError('COFFER_TOKEN is set but no server is known', 'set COFFER_URL or pass --url');
    return { url: normaliseBaseUrl(url), token: checkUserToken(envToken, 'COFFER_TOKEN'), source: 'environment', stored };
  }
  if (!stored) throw new UserError('you are not signed in', 'run `coffer login --url URL`, or set COFFER_URL and COFFER_TOKEN');
  if (urlOption && normaliseBaseUrl(urlOption) !== normaliseBaseUrl(stored.url)) {
    throw new UserError(`the stored login is for ${stored.url}, not ${normaliseBaseUrl(urlOption)}`, 'run `coffer login` for that server, or set COFFER_TOKEN');
  }
  return { url: normaliseBaseUrl(stored.url), token: storedUserToken(stored), source: 'file', stored };
}

/** The stored token, checked before it is used: a damaged file is a message, not a stack trace. */
export function storedUserToken(stored: StoredCredentials): string {
  const where = `the stored login (${displayPath(credentialsPath())})`;
  try {
    const parsed = parseToken(stored.token.trim());
    if (parsed.prefix !== 'pss_user') throw new TokenFormatError('not a personal access token');
  } catch (error) {
    if (error instanceof TokenFormatError) throw new UserError(`${where} does not hold a valid personal access token`, 'run `coffer login` again (`coffer logout` removes the damaged file)');
    throw error;
  }
  return stored.token.trim();
}
