// Path normalisation (rest-api §5.3; crypto spec §4.8) and folder-name limits.
import { invalid } from '../errors.js';

/** "/" stays; collapse "//"; add a leading "/"; drop one trailing "/". Case and dots are kept. */
export function normalisePath(input: string): string {
  if (input === '/') return '/';
  let path = input;
  while (path.includes('//')) path = path.replaceAll('//', '/');
  if (!path.startsWith('/')) path = `/${path}`;
  if (path.endsWith('/') && path !== '/') path = path.slice(0, -1);
  return path;
}

export const FOLDER_NAME_MAX = 64;

export const NUL_IN_FOLDER = 'Folder names cannot contain NUL (0x00) characters.';

/**
 * Coffer's bound on folder nesting (docs/security.md "Limits"): a write creates every folder of its
 * path, so 100,000 levels in a 200 KB body made one request build millions of folder paths.
 */
export const FOLDER_DEPTH_MAX = 64;

/**
 * Every folder (segment) of a normalised path is at most 64 characters (DEVIATION D-7) and has no
 * NUL character, which PostgreSQL cannot store in text (Phase crashes on both; Coffer messages);
 * a path is at most FOLDER_DEPTH_MAX folders deep.
 */
export function checkFolderNames(path: string): void {
  if (path === '/') return;
  if (path.includes('\u0000')) throw invalid(NUL_IN_FOLDER);
  const segments = path.slice(1).split('/');
  if (segments.length > FOLDER_DEPTH_MAX) throw invalid(`Paths cannot be more than ${FOLDER_DEPTH_MAX} folders deep (got ${segments.length}).`);
  for (const segment of segments) {
    if ([...segment].length > FOLDER_NAME_MAX) throw invalid('Folder names cannot exceed 64 characters.');
  }
}
