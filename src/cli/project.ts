// The project file `.coffer.json`: links a directory (and those below it) to an app, a default
// environment and optionally a path. It holds names and ids only, never a secret, so it can be
// committed. Flags and COFFER_APP / COFFER_ENV / COFFER_PATH win over it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from './errors.js';

export const PROJECT_FILE = '.coffer.json';

export interface ProjectConfig {
  version: 1;
  /** The app's id: names may be shared or renamed, the id is what the file really points at. */
  appId: string;
  /** For people reading the file, and for messages. */
  appName: string;
  /** Default environment name (case-insensitive, as the API matches it). */
  env: string;
  /** Default path of the secrets, e.g. /backend (absent: every path for reads, / for writes). */
  path?: string;
}

export interface FoundProject {
  file: string;
  config: ProjectConfig;
}

/** The nearest .coffer.json in `cwd` or a parent directory. */
export async function findProject(cwd: string = process.cwd()): Promise<FoundProject | undefined> {
  let dir = path.resolve(cwd);
  for (;;) {
    const file = path.join(dir, PROJECT_FILE);
    let text: string | undefined;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UserError(`cannot read ${file}: ${(error as Error).message}`);
    }
    if (text !== undefined) return { file, config: parseProject(text, file) };
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function parseProject(text: string, file: string): ProjectConfig {
  let value: Partial<ProjectConfig>;
  try {
    value = JSON.parse(text) as Partial<ProjectConfig>;
  } catch {
    throw new UserError(`${file} is not valid JSON`, 'fix it, or run `coffer init` again to rewrite it');
  }
  if (value?.version !== 1 || typeof value.appId !== 'string' || typeof value.env !== 'string') {
    throw new UserError(`${file} is not a Coffer project file (it needs version 1, appId and env)`, 'run `coffer init` again to rewrite it');
  }
  return {
    version: 1,
    appId: value.appId,
    appName: typeof value.appName === 'string' ? value.appName : value.appId,
    env: value.env,
    ...(typeof value.path === 'string' && value.path !== '' ? { path: value.path } : {}),
  };
}

export async function writeProject(dir: string, config: ProjectConfig): Promise<string> {
  const file = path.join(dir, PROJECT_FILE);
  const ordered: ProjectConfig = { version: 1, appId: config.appId, appName: config.appName, env: config.env, ...(config.path ? { path: config.path } : {}) };
  await fs.writeFile(file, `${JSON.stringify(ordered, null, 2)}\n`);
  return file;
}

/** rest-api §5.3: `backend//api/` -> `/backend/api`, `` -> `/`. */
export function normalisePath(input: string): string {
  if (input === '/') return '/';
  let p = input;
  while (p.includes('//')) p = p.replace(/\/\//g, '/');
  if (!p.startsWith('/')) p = `/${p}`;
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}
