// Client-side secret references, resolved the way the Phase Node SDK 3.1.1 resolves them
// (rest-api §6.5), so that `coffer` and the SDK show the same values for the same data. This is NOT
// the server's algorithm (rest-api §6.2): whitespace is trimmed, dots in a path become slashes,
// `${app::KEY}` is a reference, apps are addressed by id or exact name, denied or missing targets
// fail only their own reference, there is no depth limit (cycles are skipped), and one pass is
// made over the references of the original value. Unlike the SDK, the work is bounded as on the
// server (src/reference-limits.ts): past a bound the value stays verbatim, with a warning.

import { ForwardIndex } from '../forward-index.js';
import {
  MAX_CLIENT_READ_SCANNED,
  MAX_CLIENT_SCANNED_PER_VALUE,
  MAX_READ_EXPANSIONS,
  MAX_READ_GROWTH,
  MAX_REFERENCE_EXPANSIONS,
  MAX_REFERENCES_PER_VALUE,
  MAX_RESOLVED_LENGTH,
} from '../reference-limits.js';

export const REFERENCE_PATTERN = /\${(?:(?<app>[^:}]+)::)?(?:(?<env>[^.\/}]+)\.)?(?:(?<path>[^}]+)\/)?(?<key>[^}]+)}/g;

/**
 * The references of `value` in order, as `value.matchAll(REFERENCE_PATTERN)` finds them: every part
 * of the pattern stops at `}`, so a match runs from `${` to the first `}` after it, with at least
 * one character between. Scanned by hand: as a regular expression each `${` with no `}` after it
 * scanned to the end, which a value of many `${` made quadratic (a secret's value is untrusted input
 * to whoever reads it). test/client/references-scan.test.ts holds the results to the pattern's.
 * With `max`, the scan stops at the first reference past it.
 */
export function referenceTexts(value: string, max = Infinity): string[] {
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
    if (texts.length > max) return texts; // the caller only needs to know there are more than max
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

/** What one read's resolution has spent so far, over all its values (pass one per read). */
export class ReadBudget {
  expansions = 0;
  scanned = 0;
  growth = 0;
}

export interface ResolveOptions {
  /** Resolved values by reference key, shared across the secrets of one read. */
  cache?: Map<string, string>;
  /** Why references stayed unresolved (the SDK prints these as warnings). */
  warnings?: string[];
  /** The read's work so far, shared across the secrets of one read (src/reference-limits.ts). */
  budget?: ReadBudget;
  /** The key of the secret whose value is resolved, for the warning if it stays verbatim. */
  secretKey?: string;
}

/** Raised when a value's expansion passes a bound: the value is returned verbatim. */
class ExpansionBudgetExceeded extends Error {}

/** The warning for a value left verbatim at a bound; `secretKey` names the secret, if known. */
export function expansionBoundWarning(secretKey?: string): string {
  return `${secretKey ? `${secretKey}: references` : 'References'} left unresolved: expanding them passes Coffer's bounds on reference expansion`;
}

/** One value's expansion: what it may call on and what it has spent. */
interface Expansion {
  fetch: ReferenceFetcher;
  cache: Map<string, string>;
  warnings: string[] | undefined;
  read: ReadBudget;
  expansions: number;
  scanned: number;
  growth: number;
}

/** Counts work against the value's and the read's bounds; throws once either is passed. */
function spend(work: Expansion, scanned: number, growth = 0, expansions = 0): void {
  work.scanned += scanned;
  work.growth += growth;
  work.expansions += expansions;
  const { read } = work;
  if (
    work.scanned > MAX_CLIENT_SCANNED_PER_VALUE ||
    work.expansions > MAX_REFERENCE_EXPANSIONS ||
    read.scanned + work.scanned > MAX_CLIENT_READ_SCANNED ||
    read.growth + work.growth > MAX_READ_GROWTH ||
    read.expansions + work.expansions > MAX_READ_EXPANSIONS
  ) {
    throw new ExpansionBudgetExceeded();
  }
}

/**
 * Expands the references of `value`. `env`, `path` and `app` are the defaults for references that
 * omit them: the SDK passes the environment name the caller asked for, the path filter of the read
 * (or "/"), and no app. Past a bound (src/reference-limits.ts) the value is returned as it is.
 */
export async function resolveReferences(
  value: string,
  env: string,
  path: string,
  fetch: ReferenceFetcher,
  app: string | null = null,
  options: ResolveOptions = {},
): Promise<string> {
  if (!value.includes('${')) return value;
  const work: Expansion = { fetch, cache: options.cache ?? new Map(), warnings: options.warnings, read: options.budget ?? new ReadBudget(), expansions: 0, scanned: 0, growth: 0 };
  try {
    return await expand(value, env, path, app, work, new Set());
  } catch (error) {
    if (!(error instanceof ExpansionBudgetExceeded)) throw error;
    options.warnings?.push(expansionBoundWarning(options.secretKey));
    return value;
  } finally {
    work.read.expansions += work.expansions;
    work.read.scanned += work.scanned;
    work.read.growth += work.growth;
  }
}

async function expand(value: string, env: string, path: string, app: string | null, work: Expansion, stack: Set<string>): Promise<string> {
  if (!value.includes('${')) return value;
  spend(work, value.length);
  const texts = referenceTexts(value, MAX_REFERENCES_PER_VALUE);
  if (texts.length > MAX_REFERENCES_PER_VALUE) throw new ExpansionBudgetExceeded();
  const { cache } = work;
  let resolved = value;
  for (const text of texts) {
    const ref = parseReference(text);
    const targetApp = ref.app ?? app;
    const targetEnv = ref.env ?? env;
    const targetPath = ref.path || path || '/';
    const key = referenceKey(targetEnv, targetPath, ref.key, targetApp);
    if (stack.has(key)) {
      work.warnings?.push(`Circular reference detected: ${text}`);
      continue;
    }
    if (!cache.has(key)) {
      spend(work, 0, 0, 1);
      stack.add(key);
      try {
        const raw = await work.fetch(targetEnv, targetPath, ref.key, targetApp);
        cache.set(key, await expand(raw, targetEnv, targetPath, targetApp, work, stack));
      } catch (error) {
        if (error instanceof ExpansionBudgetExceeded) throw error;
        work.warnings?.push(`Failed to resolve reference ${text}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      } finally {
        stack.delete(key);
      }
    }
    // The first occurrence only, as the SDK's String.replace with a string pattern does: found by
    // reading the value up to it, then the result is written; that is what it costs.
    const at = resolved.indexOf(text);
    if (at === -1) continue;
    const replacement = cache.get(key)!;
    const length = resolved.length - text.length + replacement.length;
    spend(work, at + text.length + length, Math.max(0, replacement.length - text.length));
    if (length > MAX_RESOLVED_LENGTH) throw new ExpansionBudgetExceeded();
    resolved = resolved.slice(0, at) + replacement + resolved.slice(at + text.length);
  }
  return resolved;
}
