// Shared pieces of the race tests (test/reliability/*-races.test.ts): a server with an owner and an
// API client, and how a round's answers and outcomes are reported.
import { after, before } from 'node:test';
import { apiClient, createOwner, type ApiClient, type OwnerFixture } from './fixtures.js';
import { startTestServer, type TestServer } from './server.js';
import type { StoreTarget } from './stores.js';

export type Answer = { status: number; body: any; text: string };

export interface OwnerServer {
  server: TestServer;
  owner: OwnerFixture;
  api: ApiClient;
}

/** A server on `kind` with a first organisation and its owner's API client (warnings only in the log). */
async function startOwnerServer(kind: StoreTarget['kind']): Promise<OwnerServer> {
  const server = await startTestServer({ store: kind, env: { LOG_LEVEL: 'warn' } });
  const owner = await createOwner(server.domain);
  return { server, owner, api: apiClient(server.url, owner.authorization) };
}

/**
 * Inside a describe: a server as startOwnerServer starts it, before the suite's tests, closed after
 * them. The returned object's members are set once the suite's `before` hook has run.
 */
export function ownerServerForSuite(kind: StoreTarget['kind']): OwnerServer {
  const suite = {} as OwnerServer;
  before(async () => {
    Object.assign(suite, await startOwnerServer(kind));
  });
  after(() => suite.server.close());
  return suite;
}

/** A round's answers on one line, for an assertion's message. */
export const describeAnswers = (answers: Answer[]) => answers.map((a) => `${a.status} ${a.text.slice(0, 120)}`).join(' | ');

/** How often each outcome came up: shows in the report that the rounds did land on both sides of the race. */
export function tally(counts: Map<string, number>, outcome: string): void {
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
}
