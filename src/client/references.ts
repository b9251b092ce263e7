// Client-side secret references, resolved the way the Phase Node SDK 3.1.1 resolves them
// (rest-api §6.5), so that `coffer` and the SDK show the same values for the same data. This is NOT
// the server's algorithm (rest-api §6.2): whitespace is trimmed, dots in a path become slashes,
// `${app::KEY}` is a reference, apps are addressed by id or exact name, denied or missing targets
// fail only their own reference, there is no depth limit (cycles are skipped), and one pass is
// made over the references of the original value.

import { ForwardIndex } from '../forward-index.js';

export const REFERENCE_PATTERN = /\${(?:(?<app>[^:}]+)::)?(?:(?<env>[^.\/}]+)\.)?(?:(?<path>[^}]+)\/)?(?<key>[^}]+)}/g;

/**
 * The references of `value` in order, as `value.matchAll(REFERENCE_PATTERN)` finds them: every part
 * of the pattern stops at `}`, so a match runs from `${` to the first `}` after it, with at least
 * one character between. Scanned by hand: as a regular expression each `${` with no `}` after it
 * scanned to the end, which a value of many `${` made quadratic (a secret's value is untrusted input
 * to whoever reads it). test/client/references-scan.test.ts holds the results to the pattern's.
 */
export function referenceTexts(value: string): string[] {
  const texts: string[] = [];
  const closing = new ForwardIndex(value, '}');
  let from = 0;
  for (;;) {
    const start = value.indexOf('${', from);
    if (start === -1) return texts;
    const close = closing.at(start + 2);
    if (close === -1) return texts;
    if (close === start + 2) {
      from = start + 1;
      continue;
    }
    texts.push(value.slice(start, close + 1));
    from = close + 1;
  }
}

export interface ParsedReference {
  app: string | null;
  env: string | null;
  path: string;
  key: string;
}

/** The lookup key of a secret: app (if any), lower-cased environment name, path without trailing slashes, key. */
export function referenceKey(env: string, path: string, key: string, app?: string | null): string {
  return `${app ? `${app}:` : ''}${env.toLowerCase()}:${path.replace(/\/+$/, '')}:${key}`;
}

export function parseReference(reference: string): ParsedReference {
  const match = new RegExp(REFERENCE_PATTERN.source).exec(reference);
  if (!match?.groups) throw new Error(`Invalid secret reference format: ${reference}`);
  const { app, env, path, key } = match.groups;
  return {
    app: app?.trim() || null,
    env: env?.trim() || null,
    key: key!.trim(),
    path: path ? `/${path.replace(/\.+/g, '/')}`.replace(/\/+/g, '/') : '/',
  };
}

/** Finds one referenced secret's value (already override-substituted, not yet resolved). */
export type ReferenceFetcher = (env: string, path: string, key: string, app: string | null) => Promise<string>;

export interface ResolveOptions {
  /** Resolved values by reference key, shared across the secrets of one read. */
  cache?: Map<string, string>;
  /** Why references stayed unresolved (the SDK prints these as warnings). */
  warnings?: string[];
}

/**
 * Expands the references of `value`. `env`, `path` and `app` are the defaults for references that
 * omit them: the SDK passes the environment name the caller asked for, the path filter of the read
 * (or "/"), and no app.
 */
export async function resolveReferences(
  value: string,
  env: string,
  path: string,
  fetch: ReferenceFetcher,
  app: string | null = null,
  options: ResolveOptions = {},
  stack: Set<string> = new Set(),
): Promise<string> {
  if (!value.includes('${')) return value;
  const cache = options.cache ?? new Map<string, string>();
  let resolved = value;
  for (const text of referenceTexts(value)) {
    const ref = parseReference(text);
    const targetApp = ref.app ?? app;
    const targetEnv = ref.env ?? env;
    const targetPath = ref.path || path || '/';
    const key = referenceKey(targetEnv, targetPath, ref.key, targetApp);
    if (stack.has(key)) {
      options.warnings?.push(`Circular reference detected: ${text}`);
      continue;
    }
    if (!cache.has(key)) {
      stack.add(key);
      try {
        const raw = await fetch(targetEnv, targetPath, ref.key, targetApp);
        cache.set(key, await resolveReferences(raw, targetEnv, targetPath, fetch, targetApp, { ...options, cache }, stack));
      } catch (error) {
        options.warnings?.push(`Failed to resolve reference ${text}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      } finally {
        stack.delete(key);
      }
    }
    // String.replace with a string pattern replaces the first occurrence only, as the SDK does.
    const replacement = cache.get(key)!;
    resolved = resolved.replace(text, () => replacement);
  }
  return resolved;
}
