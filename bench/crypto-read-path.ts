/**
 * Read-path decryption cost per ph:v1 field (DESIGN §5), cold against cached. Cold is a field decrypted
 * with nothing derived in memory: the environment's key pair is derived from its (unwrapped) seed, then
 * one X25519 exchange with the field's ephemeral key, then the AEAD — what every field costs a server
 * without the cache of derived keys. Cached is EnvironmentCipher once the environment's key pair and
 * the ephemeral key's session key are held: one AEAD per field. Two rows in between show where the
 * time goes: a naive server that keeps the key pair but exchanges per field (as for fields the SDKs
 * write, each with a fresh ephemeral key), and a new cipher's first pass over server-written fields.
 *
 *   node dist/bench/crypto-read-path.js
 *
 * measureReadPath() is exported for `npm run bench`. Prints; asserts nothing (DESIGN §6).
 */
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cofferCrypto, type CofferCrypto } from '../src/crypto/index.js';

export interface ReadPathOptions {
  /** Fields per environment (default 100). */
  fields?: number;
  /** Characters per value (default 40). */
  valueLength?: number;
  /** Timed rounds of about 20 ms per variant; the median round is reported (default 25). */
  rounds?: number;
  crypto?: CofferCrypto;
}

export interface ReadPathResult {
  fields: number;
  valueLength: number;
  rounds: number;
  backend: string;
  /** Nothing cached: key pair from the seed + parse + X25519 + BLAKE2b + AEAD per field. */
  cold: Timing;
  /** Key pair held, no session-key cache: parse + X25519 + BLAKE2b + AEAD per field. */
  exchangePerField: Timing;
  /** EnvironmentCipher, first pass by a new instance over fields another process wrote (one X25519 in total). */
  firstPass: Timing;
  /** EnvironmentCipher, steady state (session key cached): parse + AEAD per field. */
  cached: Timing;
  /** cold.median / cached.median: the number PASS/FAIL is judged on. */
  ratio: number;
  /** cold.best / cached.best */
  bestRatio: number;
  /** ratio >= target */
  pass: boolean;
  target: number;
}

export const READ_PATH_TARGET_RATIO = 20;

function randomValue(length: number, i: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let j = 0; j < length; j++) out += alphabet[(i * 7919 + j * 104729) % alphabet.length];
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Passes per round so that a round lasts about ROUND_MS: short rounds measure the scheduler, not us. */
const ROUND_MS = 20;

function passesPerRound(run: () => void): number {
  const start = performance.now();
  run();
  const elapsed = Math.max(performance.now() - start, 0.001);
  return Math.max(1, Math.round(ROUND_MS / elapsed));
}

/** Wall time of `passes` calls of `run`, in µs per field. */
function microsPerField(fields: number, passes: number, run: () => void): number {
  const start = performance.now();
  for (let p = 0; p < passes; p++) run();
  return ((performance.now() - start) * 1000) / (fields * passes);
}

interface Timing {
  /** Median round, µs per field: what a busy machine typically sees. */
  median: number;
  /** Best round, µs per field: the cost with the least interference from other processes. */
  best: number;
}

/**
 * Runs the variants round-robin, so that background load on the machine hits all of them alike, and
 * reports the median and the best round of each.
 */
function timeInterleaved(rounds: number, fields: number, variants: Array<() => void>): Timing[] {
  for (const run of variants) run(); // warm-up: JIT, allocations
  const passes = variants.map(passesPerRound);
  const samples = variants.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) variants.forEach((run, i) => samples[i]!.push(microsPerField(fields, passes[i]!, run)));
  return samples.map((values) => ({ median: median(values), best: Math.min(...values) }));
}

export function measureReadPath(options: ReadPathOptions = {}): ReadPathResult {
  const c = options.crypto ?? cofferCrypto;
  const fields = options.fields ?? 100;
  const valueLength = options.valueLength ?? 40;
  const rounds = options.rounds ?? 25;
  const env = c.generateEnvironmentSecrets();
  const envKeyPair = c.kxKeyPairFromSeed(env.seedHex);
  const values = Array.from({ length: fields }, (_, i) => randomValue(valueLength, i));

  // Every field written with a fresh ephemeral key (as the SDKs write).
  const sdkStyle = values.map((value) => c.encryptAsymmetric(value, env.identityKey));
  const coldRun = () => {
    for (const field of sdkStyle) {
      const cipher = c.environmentCipher(env.seedHex, env.saltHex);
      cipher.decryptField(field);
      cipher.dispose();
    }
  };
  const exchangePerFieldRun = () => {
    for (const field of sdkStyle) c.decryptAsymmetric(field, envKeyPair);
  };

  // Coffer: fields written by (another process's) EnvironmentCipher share one ephemeral key.
  const writer = c.environmentCipher(env.seedHex, env.saltHex);
  const shared = values.map((value) => writer.encryptField(value));
  const firstPassRun = () => {
    const fresh = c.environmentCipher(env.seedHex, env.saltHex);
    for (const field of shared) fresh.decryptField(field);
    fresh.dispose();
  };
  const reader = c.environmentCipher(env.seedHex, env.saltHex);
  const cachedRun = () => {
    for (const field of shared) reader.decryptField(field);
  };

  const timings = timeInterleaved(rounds, fields, [coldRun, exchangePerFieldRun, firstPassRun, cachedRun]);
  const [cold, exchangePerField, firstPass, cached] = timings as [Timing, Timing, Timing, Timing];
  reader.dispose();
  writer.dispose();

  const ratio = cold.median / cached.median;
  const bestRatio = cold.best / cached.best;
  return {
    fields,
    valueLength,
    rounds,
    backend: c.backend.name,
    cold,
    exchangePerField,
    firstPass,
    cached,
    ratio,
    bestRatio,
    pass: ratio >= READ_PATH_TARGET_RATIO,
    target: READ_PATH_TARGET_RATIO,
  };
}

export function formatReadPathResult(result: ReadPathResult): string {
  const row = (label: string, t: Timing, note = '') =>
    `  ${label.padEnd(38)} ${t.median.toFixed(2).padStart(7)} µs/field  (best round ${t.best.toFixed(2)})${note}`;
  return [
    `crypto read path: ${result.fields} fields × ${result.valueLength}-char values, ` +
      `${result.rounds} interleaved rounds (${result.backend})`,
    row('cold: nothing cached', result.cold, ', key pair from seed + X25519 + AEAD'),
    row('key pair held, one X25519 per field', result.exchangePerField),
    row('EnvironmentCipher, first pass', result.firstPass, ', new instance: one X25519 in total'),
    row('EnvironmentCipher, session key cached', result.cached),
    `  ratio cold / cached: ${result.ratio.toFixed(1)}× (best rounds ${result.bestRatio.toFixed(1)}×)  ` +
      `${result.pass ? 'PASS' : 'FAIL'} (target ≥ ${result.target}×, on medians)`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatReadPathResult(measureReadPath()));
}
