// Reading the audit trail (Coffer extensions, docs/audit.md): GET /v1/secrets/{id}/history/ and
// GET /coffer/v1/audit/events/ (keyset pagination).
import type { FastifyInstance } from 'fastify';
import { invalid } from '../../domain/errors.js';
import { MAX_PAGE } from '../../domain/audit-log.js';
import type { EventRow } from '../../store/events.table.js';
import { errorSchema, timestamp } from '../views.js';
import { definePublicRoute } from './define.js';

function eventView(event: EventRow) {
  const actor = event.actor_member_id
    ? { type: 'member', id: event.actor_member_id, tokenId: event.actor_token_id }
    : event.actor_service_account_id
      ? { type: 'service_account', id: event.actor_service_account_id, tokenId: event.actor_token_id }
      : null;
  return {
    id: event.id,
    seq: event.seq,
    kind: event.kind,
    action: event.action,
    appId: event.app_id,
    environmentId: event.environment_id,
    environmentRevision: event.environment_revision,
    secretId: event.secret_id,
    secretIds: event.secret_ids,
    resourceId: event.resource_id,
    description: event.description,
    snapshot: event.snapshot,
    actor,
    ip: event.ip,
    userAgent: event.user_agent,
    createdAt: timestamp(event.created_at),
    prevMac: event.prev_mac,
    mac: event.mac,
  };
}

const eventSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    seq: { type: 'integer' },
    kind: { type: 'string', enum: ['secret', 'audit'] },
    action: { type: 'string' },
    actor: { type: ['object', 'null'], properties: { type: { type: 'string' }, id: { type: 'string' }, tokenId: { type: ['string', 'null'] } } },
    ip: { type: ['string', 'null'] },
    userAgent: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    mac: { type: 'string', description: 'keyed BLAKE2b over the event and prevMac' },
  },
} as const;

export async function auditRoutes(app: FastifyInstance) {
  const { domain } = app;
  definePublicRoute(app, {
    url: '/v1/secrets/:secret_id/history/',
    auth: 'secret',
    methods: {
      GET: {
        schema: {
          tags: ['secrets'],
          summary: "A secret's history (Coffer extension): its writes with the values of each version, and the reads that returned it",
          params: { type: 'object', properties: { secret_id: { type: 'string', format: 'uuid' } } },
          response: {
            200: {
              type: 'object',
              properties: {
                data: { type: 'array', items: { ...eventSchema, properties: { ...eventSchema.properties, key: { type: ['string', 'null'] }, value: { type: ['string', 'null'] }, comment: { type: ['string', 'null'] }, version: { type: ['integer', 'null'] } } } },
                truncated: { type: 'boolean' },
              },
            },
            403: errorSchema,
            404: errorSchema,
          },
        },
        handler: async (call, request) => {
          const { secret_id: secretId } = request.params as { secret_id: string };
          const history = await domain.auditLog.secretHistory(call, secretId);
          return {
            data: history.entries.map((entry) => ({
              ...eventView(entry.event),
              version: typeof entry.event.snapshot?.version === 'number' ? entry.event.snapshot.version : null,
              key: entry.key,
              value: entry.value,
              comment: entry.comment,
            })),
            truncated: history.truncated,
          };
        },
      },
    },
  });

  app.route({
    method: 'GET',
    url: '/coffer/v1/audit/events/',
    config: { auth: 'none' },
    schema: {
      tags: ['coffer'],
      summary: "The organisation's audit trail, oldest first; pass `next` as `after` for the following page",
      querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE } } },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: eventSchema }, next: { type: ['integer', 'null'] } } }, 403: errorSchema },
    },
    handler: async (request) => {
      const query = request.query as Record<string, string | undefined>;
      const after = query.after === undefined ? 0 : Number(query.after);
      const limit = query.limit === undefined ? 100 : Number(query.limit);
      if (!Number.isSafeInteger(after) || after < 0) throw invalid("'after' must be a non-negative integer.");
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid(`'limit' must be an integer from 1 to ${MAX_PAGE}.`);
      const page = await domain.auditLog.organisationEvents(request.call!, after, limit);
      return { data: page.events.map(eventView), next: page.next };
    },
  });
}
