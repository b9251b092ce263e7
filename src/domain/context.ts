// Context resolution (rest-api §2.5) and principal checks (§2.6): which app or environment a
// request addresses, and whether the principal may address it at all. Runs for every public request.
import type { Db } from '../store/database.js';
import {
  findAppRef,
  findEnvironmentIdOfSecret,
  findEnvironmentRef,
  findEnvironmentRefByName,
  type AppRef,
  type EnvironmentRef,
} from '../store/directory.js';
import { hasAppAccess, hasEnvironmentAccess, type AccessControl, type AccountAccess } from './access.js';
import { forbidden, notFound, unauthenticated } from './errors.js';
import type { Principal } from './principal.js';
import { TtlCache } from './ttl-cache.js';

export interface ContextInput {
  /** `{app_id}` of /v1/apps/{app_id}/ */
  urlAppId?: string | undefined;
  /** `{env_id}` of /v1/environments/{env_id}/ */
  urlEnvId?: string | undefined;
  /** `Secret-Id` header, else `secret_id` query parameter. */
  secretId?: string | undefined;
  /** `Environment` header (an environment id). */
  environmentHeader?: string | undefined;
  appIdQuery?: string | undefined;
  envQuery?: string | undefined;
  /**
   * Detail endpoints resolve from the URL only and ignore query parameters (DEVIATION D-5: Phase lets
   * `?app_id=` silently retarget writes).
   */
  urlOnly?: boolean;
}

export interface Target {
  readonly app?: AppRef;
  /** The environment the request addresses (secret id, Environment header, app_id + env). */
  readonly environment?: EnvironmentRef;
  /**
   * The environment named by `{env_id}` in the URL. Phase resolves only its app as the target, so
   * the principal check is on the app and the endpoint checks the environment itself (§9.4).
   */
  readonly urlEnvironment?: EnvironmentRef;
}

export interface RequestContext {
  readonly principal: Principal;
  readonly access: AccountAccess;
  readonly target: Target;
}

export class ContextResolver {
  readonly #apps: TtlCache<string, AppRef>;
  readonly #environments: TtlCache<string, EnvironmentRef>;
  readonly #environmentsByName: TtlCache<string, EnvironmentRef>;

  /** @param maxAgeMs reuse of app/environment lookups (renames elsewhere are seen within it). */
  constructor(private readonly db: Db, private readonly access: AccessControl, maxAgeMs: number) {
    this.#apps = new TtlCache(10_000, maxAgeMs);
    this.#environments = new TtlCache(10_000, maxAgeMs);
    this.#environmentsByName = new TtlCache(10_000, maxAgeMs);
  }

  invalidate(): void {
    this.#apps.clear();
    this.#environments.clear();
    this.#environmentsByName.clear();
  }

  /** Resolves the target and checks that the principal may address it (the order of §1.8 step 2). */
  async resolve(principal: Principal, input: ContextInput): Promise<RequestContext> {
    const target = await this.#target(principal.organisationId, input);
    const access = await this.access.accountAccess(principal);
    checkPrincipal(principal, access, target);
    return { principal, access, target };
  }

  async app(organisationId: string, appId: string): Promise<AppRef | undefined> {
    const key = `${organisationId}/${appId}`;
    const cached = this.#apps.get(key);
    if (cached) return cached;
    const app = await findAppRef(this.db, organisationId, appId);
    if (app) this.#apps.set(key, app);
    return app;
  }

  async environment(organisationId: string, environmentId: string): Promise<EnvironmentRef | undefined> {
    const key = `${organisationId}/${environmentId}`;
    const cached = this.#environments.get(key);
    if (cached) return cached;
    const environment = await findEnvironmentRef(this.db, organisationId, environmentId);
    if (environment) this.#environments.set(key, environment);
    return environment;
  }

  async environmentByName(organisationId: string, appId: string, name: string): Promise<EnvironmentRef | undefined> {
    const key = `${organisationId}/${appId}/${name.toLowerCase()}`;
    const cached = this.#environmentsByName.get(key);
    if (cached) return cached;
    const environment = await findEnvironmentRefByName(this.db, organisationId, appId, name);
    if (environment) this.#environmentsByName.set(key, environment);
    return environment;
  }

  async #withApp(organisationId: string, environment: EnvironmentRef): Promise<Target> {
    const app = await this.app(organisationId, environment.app_id);
    return app ? { app, environment } : {};
  }

  async #target(organisationId: string, input: ContextInput): Promise<Target> {
    // An empty id (`/v1/apps//`) is a target that names nothing (404), not the absence of one.
    const hasUrlTarget = input.urlAppId !== undefined || input.urlEnvId !== undefined;
    if (!hasUrlTarget) {
      // 1. Secret-id mode
      if (input.secretId) {
        const environmentId = await findEnvironmentIdOfSecret(this.db, organisationId, input.secretId);
        const environment = environmentId ? await this.environment(organisationId, environmentId) : undefined;
        if (!environment) throw notFound('Secret not found');
        return this.#withApp(organisationId, environment);
      }
      // 2. Environment-header mode
      if (input.environmentHeader) {
        const environment = await this.environment(organisationId, input.environmentHeader);
        if (!environment) throw unauthenticated('Environment not found');
        return this.#withApp(organisationId, environment);
      }
    }
    // 3. Query mode
    if (!input.urlOnly && input.appIdQuery) {
      if (input.envQuery) {
        const environment = await this.environmentByName(organisationId, input.appIdQuery, input.envQuery);
        if (environment) return this.#withApp(organisationId, environment);
        if (!(await this.app(organisationId, input.appIdQuery))) throw notFound(`App with ID ${input.appIdQuery} not found`);
        throw notFound(`Environment '${input.envQuery}' not found in App ${input.appIdQuery}`);
      }
      const app = await this.app(organisationId, input.appIdQuery);
      if (!app) throw notFound(`App with ID ${input.appIdQuery} not found`);
      return { app };
    }
    // 4. URL mode
    if (input.urlEnvId !== undefined) {
      const environment = await this.environment(organisationId, input.urlEnvId);
      const app = environment ? await this.app(organisationId, environment.app_id) : undefined;
      if (!environment || !app) throw notFound('Environment not found');
      return { app, urlEnvironment: environment };
    }
    if (input.urlAppId !== undefined) {
      const app = await this.app(organisationId, input.urlAppId);
      if (!app) throw notFound(`App with ID ${input.urlAppId} not found`);
      return { app };
    }
    // 5. Organisation-only mode
    return {};
  }
}

/** §2.6: PAT callers get 404/403, service-account callers 401, as Phase answers. */
export function checkPrincipal(principal: Principal, access: AccountAccess, target: Target): void {
  if (principal.kind === 'member') {
    if (!access.live) throw notFound('User not found');
    if (target.environment) {
      if (!hasEnvironmentAccess(access, target.environment.id)) throw forbidden('User cannot access this environment');
    } else if (target.app && !hasAppAccess(access, target.app.id)) {
      throw forbidden('User cannot access this app');
    }
    return;
  }
  if (!access.live) {
    throw unauthenticated('Authentication error. Please check your authentication token or App / Environment access.');
  }
  if (target.environment) {
    if (!hasEnvironmentAccess(access, target.environment.id)) throw unauthenticated('Service account cannot access this environment');
  } else if (target.app && !hasAppAccess(access, target.app.id)) {
    throw unauthenticated('Service account cannot access this app');
  }
}

/** One authenticated request as the domain sees it. */
export interface Call extends RequestContext {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** Reads and parses the request body; called by the domain only after its access checks (§1.4). */
export type BodyReader = () => Record<string, unknown>;
