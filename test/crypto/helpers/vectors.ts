/**
 * The normative vectors of the crypto spec §10, copied from spec/crypto-vectors.json into the repo so that
 * CI needs nothing outside it. Read from the source tree (tsc does not copy JSON it only type-checks).
 */
import { readFileSync } from 'node:fs';
import type VectorsJson from '../fixtures/crypto-vectors.json';

export type Vectors = typeof VectorsJson;

const FIXTURE = new URL('../../../../test/crypto/fixtures/crypto-vectors.json', import.meta.url);

export const vectors: Vectors = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Vectors;
