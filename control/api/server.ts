/**
 * The REST API of dsmipd (fastify): bindings (list, filter, one with its
 * live counters, revoke), mobile node profiles (create, read, update,
 * delete; saved to the configuration file), statistics, health and
 * readiness, Prometheus metrics at /metrics and the OpenAPI document at
 * /openapi.json.
 *
 * It listens on localhost unless told otherwise, and anywhere else only
 * with a bearer token. A bad request gets a 4xx whose body names the field:
 * { error, field, message }.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { DataPlane } from '../dataplane/dataplane.js';
import { canonicalAddr } from '../dataplane/layout.js';
import { ConfigError, parseMobileNodeProfile, profileJson } from '../ha/config.js';
import type { HomeAgentDaemon } from '../ha/daemon.js';
import { ProfileConflict, type BindingCacheEntry } from '../ha/home-agent.js';
import {
  ApiError, Binding, BindingQuery, BindingWithCounters, NaiParams, Profile, ProfileBody, Stats,
  type Binding as BindingView, type BindingQuery as Query, type ProfileBody as ProfileInput,
} from './schemas.js';

export interface ApiOptions {
  host: string;
  port: number;
  /** Required unless host is a loopback address. */
  token?: string;
  now?: () => number;
}

/** Builds the API and listens on host:port. */
export async function startApi(daemon: HomeAgentDaemon, dataPlane: DataPlane, metrics: Registry, options: ApiOptions): Promise<FastifyInstance> {
  if (!LOOPBACK.has(options.host) && !options.token) {
    throw new Error(`the REST API listens on ${options.host}, beyond localhost: it needs a bearer token (--api-token or DSMIPD_API_TOKEN)`);
  }
  const app = await buildApi(daemon, dataPlane, metrics, options);
  await app.listen({ host: options.host, port: options.port });
  return app;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A queried address in canonical form, or as given if it is none (then it matches nothing). */
const canonical = (a: string): string => {
  try {
    return canonicalAddr(a);
  } catch {
    return a;
  }
};

function view(e: BindingCacheEntry, nowMs: number): BindingView {
  return {
    nai: e.nai, bindingId: e.bindingId, homeAddress: e.homeAddress, ...(e.ipv4HomeAddress && { ipv4HomeAddress: e.ipv4HomeAddress }),
    careOf: e.careOf, natDetected: e.natDetected, tunnel: e.tunnel, tunnelled: [...e.binding.homeAddresses, ...e.binding.prefixes],
    sequence: e.sequence, lifetime: e.lifetime, expiresIn: Math.max(0, Math.round((e.expiresMs - nowMs) / 1000)),
  };
}

const matches = (e: BindingCacheEntry, q: Query): boolean =>
  (q.nai === undefined || e.nai === q.nai)
  && (q.homeAddress === undefined || [e.homeAddress, e.ipv4HomeAddress].includes(canonical(q.homeAddress)))
  && (q.careOf === undefined || e.careOf === canonical(q.careOf))
  && (q.nat === undefined || e.natDetected === q.nat);

/** fastify's validation error as { field, message }: "body.spi", "must be >= 256". */
function fieldOf(err: FastifyError): { field?: string; message: string } {
  const v = err.validation?.[0];
  if (!v) return { message: err.message };
  const { missingProperty: missing, additionalProperty: unknown } = v.params as { missingProperty?: string; additionalProperty?: string };
  const field = [err.validationContext, ...v.instancePath.split('/'), missing ?? unknown].filter(Boolean).join('.');
  return { field, message: unknown ? 'is not a known field' : missing ? 'is required' : v.message ?? 'is invalid' };
}

/** The API's routes, not yet listening (tests inject requests). */
export async function buildApi(daemon: HomeAgentDaemon, dataPlane: DataPlane, metrics: Registry, options: Pick<ApiOptions, 'token' | 'now'> = {}): Promise<FastifyInstance> {
  const now = options.now ?? Date.now;
  const app = Fastify({ logger: false, ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } } });
  await app.register(swagger, {
    openapi: {
      info: { title: 'dsmipd', description: 'The DSMIPv6 home agent of the mobility anchor', version: '0.1.0' },
      ...(options.token && { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] }),
    },
  });

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) return reply.status(500).send({ error: 'Internal Server Error', message: err.message });
    return reply.status(status).send({ error: status === 400 ? 'Bad Request' : err.name, ...fieldOf(err) });
  });

  const token = options.token ? Buffer.from(`Bearer ${options.token}`) : null;
  app.addHook('onRequest', async (req, reply) => {
    if (!token || req.url === '/health' || req.url === '/ready') return;
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      await reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', field: 'header.authorization', message: 'a valid bearer token is required' });
    }
  });

  const bad = (reply: { status: (n: number) => { send: (b: unknown) => unknown } }, status: number, field: string | undefined, message: string) =>
    reply.status(status).send({ error: status === 404 ? 'Not Found' : status === 409 ? 'Conflict' : 'Bad Request', ...(field && { field }), message });

  app.get('/health', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  app.get('/ready', async (_req, reply) => (daemon.serving ? { status: 'ready' } : reply.status(503).send({ status: 'starting' })));

  app.get<{ Querystring: Query }>('/bindings', { schema: { querystring: BindingQuery, response: { 200: { type: 'array', items: Binding } } } },
    async (req) => daemon.homeAgent.bindings().filter((e) => matches(e, req.query)).map((e) => view(e, now())));

  app.get<{ Params: { nai: string } }>('/bindings/:nai', { schema: { params: NaiParams, response: { 200: BindingWithCounters, 404: ApiError } } }, async (req, reply) => {
    const e = daemon.homeAgent.binding(req.params.nai);
    if (!e) return bad(reply, 404, 'params.nai', `no binding for ${req.params.nai}`);
    const c = dataPlane.bindingCounters(e.bindingId);
    return { ...view(e, now()), counters: { encapPackets: Number(c.encapPackets), encapBytes: Number(c.encapBytes), decapPackets: Number(c.decapPackets), decapBytes: Number(c.decapBytes) } };
  });

  app.delete<{ Params: { nai: string } }>('/bindings/:nai', { schema: { params: NaiParams, response: { 404: ApiError } } }, async (req, reply) => {
    if (!daemon.revoke(req.params.nai)) return bad(reply, 404, 'params.nai', `no binding for ${req.params.nai}`);
    return reply.status(204).send();
  });

  app.get('/profiles', { schema: { response: { 200: { type: 'array', items: Profile } } } }, async () => daemon.homeAgent.profileList().map((p) => profileJson(p, false)));

  app.get<{ Params: { nai: string } }>('/profiles/:nai', { schema: { params: NaiParams, response: { 200: Profile, 404: ApiError } } }, async (req, reply) => {
    const p = daemon.homeAgent.profile(req.params.nai);
    return p ? profileJson(p, false) : bad(reply, 404, 'params.nai', `no profile ${req.params.nai}`);
  });

  const save = (body: ProfileInput, reply: Parameters<typeof bad>[0], created: boolean) => {
    try {
      const profile = parseMobileNodeProfile(body, daemon.config, 'body');
      daemon.setProfile(profile);
      return reply.status(created ? 201 : 200).send(profileJson(profile, false));
    } catch (err) {
      if (err instanceof ConfigError) {
        const [first = ''] = err.problems;
        return bad(reply, 400, first.split(':')[0], err.problems.join('; '));
      }
      if (err instanceof ProfileConflict) return bad(reply, 409, `body.${err.field}`, err.reason);
      throw err;
    }
  };

  app.post<{ Body: ProfileInput }>('/profiles', { schema: { body: ProfileBody, response: { 201: Profile, 400: ApiError, 409: ApiError } } }, async (req, reply) => {
    if (daemon.homeAgent.profile(req.body.nai)) return bad(reply, 409, 'body.nai', `${req.body.nai} exists: PUT /profiles/${req.body.nai} to change it`);
    return save(req.body, reply, true);
  });

  app.put<{ Params: { nai: string }; Body: ProfileInput }>('/profiles/:nai',
    { schema: { params: NaiParams, body: ProfileBody, response: { 200: Profile, 201: Profile, 400: ApiError, 409: ApiError } } }, async (req, reply) => {
      if (req.body.nai !== req.params.nai) return bad(reply, 400, 'body.nai', `must be the NAI in the path (${req.params.nai})`);
      return save(req.body, reply, !daemon.homeAgent.profile(req.params.nai));
    });

  app.delete<{ Params: { nai: string } }>('/profiles/:nai', { schema: { params: NaiParams, response: { 404: ApiError } } }, async (req, reply) => {
    if (!daemon.deleteProfile(req.params.nai)) return bad(reply, 404, 'params.nai', `no profile ${req.params.nai}`);
    return reply.status(204).send();
  });

  app.get('/stats', { schema: { response: { 200: Stats } } }, async () => {
    const bindings = daemon.homeAgent.bindings();
    const byFormat: Record<string, number> = {};
    for (const b of bindings) byFormat[b.tunnel.format] = (byFormat[b.tunnel.format] ?? 0) + 1;
    const answered = Object.fromEntries([...daemon.answered].map(([status, n]) => [status < 0 ? 'discarded' : String(status), n]));
    const num = (r: Record<string, bigint>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
    return {
      bindings: { total: bindings.length, natted: bindings.filter((b) => b.natDetected).length, byFormat },
      answered, dataPlane: { drops: num(dataPlane.drops()), events: num(dataPlane.events()) },
    };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.metrics()));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
