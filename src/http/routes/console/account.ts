// Signing in and out of the console, and what a signed-in person may read about themselves.
import type { FastifyInstance } from 'fastify';
import { readJsonBody } from '../../body.js';
import { clientIp } from '../../plugins/authenticate.js';
import { clearSessionCookie, readCookie, SESSION_COOKIE, setSessionCookie } from './auth.js';
import { defineConsoleRoute } from './define.js';
import { errors, kdfParamsSchema, membershipSchema, organisationIdQuery, rewrappedKeyringSchema, userSchema } from './schemas.js';

export async function accountRoutes(app: FastifyInstance) {
  const { domain } = app;

  defineConsoleRoute(app, {
    url: '/auth/login/',
    auth: 'public',
    methods: {
      POST: {
        schema: {
          summary: 'Sign in with the client-side login hash; sets the HttpOnly session cookie',
          description:
            'The client sends hex Argon2id(password, BLAKE2b-128("auth-v1:" + email)), never the password. The response carries ' +
            '`csrfToken`: send it as `X-CSRF-Token` with every POST and DELETE made with the session. Unknown e-mail and wrong ' +
            'password get the same 401; repeated failures get 429.',
          body: {
            type: 'object',
            required: ['email', 'loginHash'],
            properties: { email: { type: 'string' }, loginHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                user: userSchema,
                memberships: { type: 'array', items: membershipSchema },
                csrfToken: { type: 'string' },
                expiresAt: { type: 'string', format: 'date-time' },
              },
            },
            ...errors(400, 401, 415, 429),
          },
        },
        handler: async (request, reply) => {
          const session = await domain.sessions.login(readJsonBody(request), request.ip);
          setSessionCookie(request, reply, session);
          const memberships = await domain.users.memberships(session.user.id);
          return { user: session.user, memberships, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
        },
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/auth/logout/',
    auth: 'public',
    methods: {
      POST: {
        schema: {
          summary: 'End the console session (needs X-CSRF-Token) and clear its cookie',
          security: [{ session: [] }],
          response: { 204: { type: 'null' }, ...errors(403, 415) },
        },
        handler: async (request, reply) => {
          const sessionId = readCookie(request, SESSION_COOKIE);
          const session = sessionId ? await domain.sessions.find(sessionId) : undefined;
          if (session) {
            const csrf = request.headers['x-csrf-token'];
            domain.sessions.checkCsrf(session, typeof csrf === 'string' ? csrf : undefined);
            await domain.sessions.logout(session);
          }
          clearSessionCookie(request, reply);
          return reply.code(204).send();
        },
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/me/',
    auth: 'account',
    methods: {
      GET: {
        schema: {
          summary: 'The signed-in person and their memberships (a token: its own organisation only)',
          response: {
            200: {
              type: 'object',
              properties: {
                user: userSchema,
                memberships: { type: 'array', items: membershipSchema },
                via: { type: 'string', enum: ['session', 'token'] },
                organisationId: { type: ['string', 'null'], format: 'uuid', description: "the token's organisation; null for a session" },
                tokenId: { type: ['string', 'null'], format: 'uuid' },
              },
            },
            ...errors(401, 403, 404),
          },
        },
        handler: async (request) => {
          const account = request.account!;
          const me = await domain.users.me(account);
          return {
            ...me,
            via: account.via,
            organisationId: account.via === 'token' ? account.principal.organisationId : null,
            tokenId: account.via === 'token' ? account.principal.tokenId : null,
          };
        },
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/me/keyring/',
    auth: 'account',
    methods: {
      GET: {
        schema: {
          summary: 'The wrapped keyring and its kdf parameters, to unlock it on the client',
          querystring: organisationIdQuery,
          response: {
            200: {
              type: 'object',
              properties: {
                organisationId: { type: 'string', format: 'uuid' },
                memberId: { type: 'string', format: 'uuid' },
                identityKey: { type: 'string' },
                wrappedKeyring: { type: 'string' },
                wrappedRecovery: { type: 'string' },
                kdfParams: kdfParamsSchema,
              },
            },
            ...errors(400, 401, 403, 404),
          },
        },
        handler: async (request, reply) => {
          reply.header('cache-control', 'no-store');
          return domain.users.keyring(request.account!, (request.query as Record<string, string | undefined>).organisation_id);
        },
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/me/password/',
    auth: 'account',
    methods: {
      POST: {
        schema: {
          summary: 'Change the password: the current and new login hashes, and every keyring of the account rewrapped on the client',
          description:
            'The client unlocks each membership keyring with the current password and wraps it again under the device key of the new one ' +
            '(crypto spec §2.3); the server stores them with the new login hash in one transaction. `keyrings` must name exactly the ' +
            "organisations the account belongs to (409 otherwise). Every other console session of the account ends; personal access tokens stay valid. " +
            'A wrong current password is 403 and counts against the sign-in guess budget.',
          body: {
            type: 'object',
            required: ['currentLoginHash', 'loginHash', 'keyrings'],
            properties: {
              currentLoginHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
              loginHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
              keyrings: {
                type: 'array',
                items: { ...rewrappedKeyringSchema, required: ['organisationId', ...rewrappedKeyringSchema.required], properties: { organisationId: { type: 'string', format: 'uuid' }, ...rewrappedKeyringSchema.properties } },
              },
            },
          },
          response: {
            200: { type: 'object', properties: { organisations: { type: 'integer' }, sessionsEnded: { type: 'integer' } } },
            ...errors(400, 401, 403, 404, 409, 415, 429),
          },
        },
        handler: async (request) => domain.accountCredentials.changePassword(request.account!, () => readJsonBody(request)),
      },
    },
  });

  defineConsoleRoute(app, {
    url: '/auth/recover/',
    auth: 'public',
    methods: {
      POST: {
        schema: {
          summary: "Recover an account with a membership's recovery phrase: a new password, signed with the keyring the phrase derives",
          description:
            'The client derives the keyring from the phrase and the organisation id, wraps it under the new password, and signs the statement ' +
            '(organisation, e-mail, issuedAt, new login hash, wrapped keyring) with its Ed25519 key (docs/crypto.md "Account recovery"). ' +
            "`issuedAt` must be within 5 minutes of the server's clock, and later than the account's last password change (a used request is 409). " +
            'Every console session of the account ends. The account\'s other organisations keep keyrings wrapped under the old password until ' +
            'each is recovered with its own phrase; they are listed in the answer. Unknown e-mail, non-member and wrong phrase get the same 401.',
          body: {
            type: 'object',
            required: ['email', 'organisationId', 'issuedAt', 'loginHash', 'keyring', 'signature'],
            properties: {
              email: { type: 'string' },
              organisationId: { type: 'string', format: 'uuid' },
              issuedAt: { type: 'string', format: 'date-time' },
              loginHash: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
              keyring: rewrappedKeyringSchema,
              signature: { type: 'string', pattern: '^[0-9a-fA-F]{128}$', description: 'hex Ed25519 signature of the statement' },
            },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                userId: { type: 'string', format: 'uuid' },
                organisationId: { type: 'string', format: 'uuid' },
                memberId: { type: 'string', format: 'uuid' },
                otherOrganisations: {
                  type: 'array',
                  items: { type: 'object', properties: { organisationId: { type: 'string', format: 'uuid' }, organisationName: { type: 'string' } } },
                },
                sessionsEnded: { type: 'integer' },
              },
            },
            ...errors(400, 401, 409, 415, 429),
          },
        },
        handler: async (request, reply) => {
          reply.header('cache-control', 'no-store');
          const agent = request.headers['user-agent'];
          return domain.accountCredentials.recover(() => readJsonBody(request), {
            ip: clientIp(request),
            address: request.ip,
            userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null,
          });
        },
      },
    },
  });
}
