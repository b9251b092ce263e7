// Query strings: camelCase names are rewritten to snake_case as Phase does (appId -> app_id),
// and a repeated parameter keeps its last value (rest-api §1.11).
import { parse } from 'fast-querystring';

const CAMEL_BOUNDARY = /([a-z])([A-Z])|([a-zA-Z])([0-9])/g;
const UPPER = /[A-Z]/;

export function snakeCaseName(name: string): string {
  if (!UPPER.test(name)) return name;
  return name.replace(CAMEL_BOUNDARY, (_m, a, b, c, d) => (a ? `${a}_${b}` : `${c}_${d}`)).toLowerCase();
}

export function parseQueryString(text: string): Record<string, string> {
  const query: Record<string, string> = Object.create(null);
  if (text === '') return query;
  const parsed = parse(text) as Record<string, string | string[]>;
  for (const name in parsed) {
    const value = parsed[name]!;
    query[snakeCaseName(name)] = Array.isArray(value) ? value[value.length - 1]! : value;
  }
  return query;
}
