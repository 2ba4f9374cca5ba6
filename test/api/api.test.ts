/**
 * dsmipd's REST API on a real home agent daemon and data plane (not
 * attached anywhere: BUs go straight into the daemon, as the ring buffer
 * would hand them over): bindings listed, filtered, read with counters and
 * revoked; profiles created, changed and deleted and saved to the
 * configuration file; statistics, metrics, the OpenAPI document; bad
 * requests answered 4xx naming the field; the bearer token.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../control/api/metrics.js';
import { buildApi, startApi } from '../../control/api/server.js';
import { DataPlane, PIN_ROOT } from '../../control/dataplane/dataplane.js';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { unwrapSignal } from '../../control/signalling/channel.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { encodeSignalling4, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { encodeMobilityHeader, type MobilityOption } from '../../control/wire/mh/index.js';

const KEY = '00112233445566778899aabbccddeeff00112233';
const HA6 = '2001:db8:f::1';
const HA4 = '198.51.100.1';
const INSTANCE = 'apitest';
let dir: string;
let configPath: string;
let dp: DataPlane;
let daemon: HomeAgentDaemon;
let app: FastifyInstance;

const fileConfig = {
  homeLink: { interface: 'home0', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] },
  homeAgent: { ipv6: HA6, ipv4: HA4 },
  pools: { visitors: { from: '10.1.0.200', to: '10.1.0.210' } },
  mobileNodes: [
    { nai: 'mn1@example.net', key: KEY, spi: 4096, homeAddress: '2001:db8:1::100', ipv4HomeAddress: '10.1.0.100' },
    { nai: 'mn2@example.net', key: KEY, spi: 4097, homeAddress: '2001:db8:1::200', ipv4HomeAddress: { pool: 'visitors' } },
  ],
};
const ETH6 = Buffer.from('020000000001020000000002' + '86dd', 'hex');
const ETH4 = Buffer.from('020000000001020000000002' + '0800', 'hex');

function signed(nai: string, spi: number, careOf: string, home: string, options: MobilityOption[]): Buffer {
  return signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence: 1, lifetime: 600, flags: { a: true, h: true, l: false, k: false, m: false, r: false, p: false, f: false, t: false },
    options: [...options, { type: 'mobileNodeIdentifier', subtype: 1, identifier: nai }, { type: 'replayProtection', timestamp: ntpTimestamp(Date.now()) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi, authenticator: Buffer.alloc(12) }],
  }), { key: Buffer.from(KEY, 'hex'), spi, careOf, home });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'api-'));
  configPath = join(dir, 'ha.json');
  writeFileSync(configPath, JSON.stringify(fileConfig));
  rmSync(join(PIN_ROOT, INSTANCE), { recursive: true, force: true });
  dp = DataPlane.open({ instance: INSTANCE, role: 'anchor' });
  daemon = new HomeAgentDaemon(parseHomeAgentConfig(JSON.parse(readFileSync(configPath, 'utf8'))), dp, { configPath });
  // mn1 from an IPv6 care-of address; mn2 through a NAT, leasing an IPv4 home address
  daemon.handleSignal(unwrapSignal({ ifindex: 1, frame: Buffer.concat([ETH6, encodeSignalling6({ src: '2001:db8:f::2', dst: HA6, homeAddressOption: '2001:db8:1::100',
    mh: signed('mn1@example.net', 4096, '2001:db8:f::2', '2001:db8:1::100', [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.100' }]) })]) }));
  daemon.handleSignal(unwrapSignal({ ifindex: 1, frame: Buffer.concat([ETH4, encodeSignalling4({ src: '203.0.113.2', dst: HA4, srcPort: 40000, dstPort: 4191,
    ipv6: encodeSignalling6({ src: '2001:db8:1::200', dst: HA6, mh: signed('mn2@example.net', 4097, '10.0.0.2', '2001:db8:1::200', [
      { type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }, { type: 'ipv4CareOfAddress', address: '10.0.0.2' }]) }) })]) }));
  app = await buildApi(daemon, dp, createMetrics(daemon, dp));
});
afterAll(async () => {
  await app?.close();
  dp?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bindings', () => {
  it('lists them, filtered by NAI, home address (any spelling), care-of address and NAT status', async () => {
    const all = (await app.inject({ url: '/bindings' })).json();
    expect(all.map((b: { nai: string }) => b.nai)).toEqual(['mn1@example.net', 'mn2@example.net']);
    expect(all[1]).toMatchObject({ careOf: '10.0.0.2', natDetected: true, ipv4HomeAddress: '10.1.0.200',
      tunnel: { format: 'udp4', local: HA4, remote: '203.0.113.2', localPort: 4191, remotePort: 40000 }, tunnelled: ['2001:db8:1::200', '10.1.0.200'], lifetime: 600 });
    for (const [query, nais] of [['nai=mn2@example.net', ['mn2@example.net']], ['homeAddress=2001:DB8:1:0::100', ['mn1@example.net']], ['homeAddress=10.1.0.200', ['mn2@example.net']],
      ['careOf=2001:db8:f::2', ['mn1@example.net']], ['nat=true', ['mn2@example.net']], ['nat=false', ['mn1@example.net']]] as const) {
      expect((await app.inject({ url: `/bindings?${query}` })).json().map((b: { nai: string }) => b.nai)).toEqual(nais);
    }
  });

  it('shows one with its live counters from the data plane', async () => {
    const r = await app.inject({ url: '/bindings/mn1@example.net' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ nai: 'mn1@example.net', counters: { encapPackets: 0, encapBytes: 0, decapPackets: 0, decapBytes: 0 } });
    expect((await app.inject({ url: '/bindings/nobody@example.net' })).json()).toEqual({ error: 'Not Found', field: 'params.nai', message: 'no binding for nobody@example.net' });
  });

  it('revokes one: the tunnel leaves the data plane at once', async () => {
    expect(dp.lookupEntry('2001:db8:1::100')).not.toBeNull();
    expect((await app.inject({ method: 'DELETE', url: '/bindings/mn1@example.net' })).statusCode).toBe(204);
    expect(dp.lookupEntry('2001:db8:1::100')).toBeNull();
    expect((await app.inject({ method: 'DELETE', url: '/bindings/mn1@example.net' })).statusCode).toBe(404);
  });
});

describe('profiles', () => {
  const saved = () => parseHomeAgentConfig(JSON.parse(readFileSync(configPath, 'utf8'))).mobileNodes.map((m) => m.nai);

  it('are listed without their keys', async () => {
    const r = (await app.inject({ url: '/profiles' })).json();
    expect(r[0]).toEqual({ nai: 'mn1@example.net', spi: 4096, homeAddress: '2001:db8:1::100', ipv4HomeAddress: '10.1.0.100' });
  });

  it('are created, and saved to the configuration file', async () => {
    const r = await app.inject({ method: 'POST', url: '/profiles', payload: { nai: 'mn3@example.net', key: KEY, spi: 5000, homeAddress: '2001:db8:1::300' } });
    expect(r.statusCode).toBe(201);
    expect(saved()).toContain('mn3@example.net');
    expect(statSync(configPath).mode & 0o777).toBe(0o600); // it holds the keys
    expect((await app.inject({ url: '/profiles/mn3@example.net' })).json()).toEqual({ nai: 'mn3@example.net', spi: 5000, homeAddress: '2001:db8:1::300' });
  });

  it.each([
    [{ spi: 7 }, 400, 'body.spi'],
    [{ key: undefined }, 400, 'body.key'],
    [{ key: 'xyz' }, 400, 'body.key'],
    [{ colour: 'blue' }, 400, 'body.colour'],
    [{ homeAddress: 'not-an-address' }, 400, 'body.homeAddress'],
    [{ homeAddress: '2001:db8:1::200' }, 409, 'body.homeAddress'],
    [{ spi: 4096 }, 409, 'body.spi'],
    [{ ipv4HomeAddress: { pool: 'nowhere' } }, 400, 'body.ipv4HomeAddress.pool'],
    [{ nai: 'mn2@example.net' }, 409, 'body.nai'],
  ])('a bad one (%j) gets %i naming %s', async (change, status, field) => {
    const payload = { nai: 'mn4@example.net', key: KEY, spi: 6000, homeAddress: '2001:db8:1::400', ...change };
    const r = await app.inject({ method: 'POST', url: '/profiles', payload });
    expect(r.statusCode).toBe(status);
    expect(r.json()).toMatchObject({ field });
    expect(saved()).not.toContain('mn4@example.net');
  });

  it('are changed (a new home address ends the node\'s binding) and deleted', async () => {
    expect(daemon.homeAgent.binding('mn2@example.net')).toBeDefined();
    const r = await app.inject({ method: 'PUT', url: '/profiles/mn2@example.net', payload: { nai: 'mn2@example.net', key: KEY, spi: 4097, homeAddress: '2001:db8:1::222' } });
    expect(r.statusCode).toBe(200);
    expect(daemon.homeAgent.binding('mn2@example.net')).toBeUndefined();
    expect(dp.lookupEntry('2001:db8:1::200')).toBeNull();
    expect((await app.inject({ method: 'PUT', url: '/profiles/mn2@example.net', payload: { nai: 'other@example.net', key: KEY, spi: 4097, homeAddress: '2001:db8:1::222' } })).json())
      .toMatchObject({ field: 'body.nai' });
    expect((await app.inject({ method: 'DELETE', url: '/profiles/mn3@example.net' })).statusCode).toBe(204);
    expect(saved()).toEqual(['mn1@example.net', 'mn2@example.net']);
  });
});

describe('statistics, metrics, the document, readiness', () => {
  it('counts bindings and answers', async () => {
    const s = (await app.inject({ url: '/stats' })).json();
    expect(s).toMatchObject({ bindings: { total: 0, natted: 0 }, answered: { 0: 2 } });
    expect(Object.keys(s.dataPlane.drops)).toContain('spoofed_outer');
  });

  it('/metrics speaks Prometheus', async () => {
    const r = await app.inject({ url: '/metrics' });
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toContain('dsmip_binding_updates_total{result="accepted",status="0"} 2');
    expect(r.body).toContain('# TYPE dsmip_dataplane_drops_total counter');
    expect(r.body).toContain('# TYPE dsmip_bindings gauge');
  });

  it('/openapi.json describes every route', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/bindings', '/bindings/{nai}', '/profiles', '/profiles/{nai}', '/stats', '/health', '/ready']));
  });

  it('is not ready until the daemon serves', async () => {
    expect((await app.inject({ url: '/ready' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
  });
});

describe('access', () => {
  it('beyond localhost only with a token', async () => {
    await expect(startApi(daemon, dp, createMetrics(daemon, dp), { host: '0.0.0.0', port: 0 })).rejects.toThrow(/needs a bearer token/);
  });

  it('with a token: 401 without it or with another, 200 with it; health needs none', async () => {
    const guarded = await buildApi(daemon, dp, createMetrics(daemon, dp), { token: 's3cret' });
    try {
      expect((await guarded.inject({ url: '/bindings' })).statusCode).toBe(401);
      expect((await guarded.inject({ url: '/bindings', headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
      expect((await guarded.inject({ url: '/bindings', headers: { authorization: 'Bearer s3cret' } })).statusCode).toBe(200);
      expect((await guarded.inject({ url: '/health' })).statusCode).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('dsmipctl, over the API', () => {
  let served: FastifyInstance;
  let url: string;
  /** Runs dsmipctl (asynchronously: the API it calls answers from this very process). */
  const ctl = (...args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'control/cli/dsmipctl.ts', '--url', url, ...args], { encoding: 'utf8' },
      (error, out, err) => resolve({ code: error ? (error.code as number) : 0, out, err }));
  });
  beforeAll(async () => {
    served = await startApi(daemon, dp, createMetrics(daemon, dp), { host: '127.0.0.1', port: 0 });
    const a = served.server.address() as AddressInfo;
    url = `http://127.0.0.1:${a.port}`;
  });
  afterAll(async () => served?.close());

  it('prints tables for people and JSON for scripts', async () => {
    const profiles = await ctl('profiles');
    expect(profiles).toMatchObject({ code: 0 });
    expect(profiles.out.split('\n')[0]).toMatch(/^NAI\s+SPI\s+HOME\s+IPV4 HOME\s+PREFIXES\s+ROUTER$/);
    expect(profiles.out).toMatch(/mn1@example\.net\s+4096\s+2001:db8:1::100\s+10\.1\.0\.100/);
    expect(JSON.parse((await ctl('--json', 'profiles')).out).map((p: { nai: string }) => p.nai)).toEqual(['mn1@example.net', 'mn2@example.net']);
    expect((await ctl('stats')).out).toMatch(/^bindings: 0 \(0 behind a NAT\)/);
  });

  it('sets a profile from a file, and says why the API refused one', async () => {
    const file = join(dir, 'p.json');
    writeFileSync(file, JSON.stringify({ nai: 'mn9@example.net', key: KEY, spi: 9000, homeAddress: '2001:db8:1::900' }));
    expect(await ctl('profile-set', file)).toMatchObject({ code: 0, out: 'profile mn9@example.net saved\n' });
    writeFileSync(file, JSON.stringify({ nai: 'mn9@example.net', key: KEY, spi: 9, homeAddress: '2001:db8:1::900' }));
    expect(await ctl('profile-set', file)).toMatchObject({ code: 1, err: expect.stringMatching(/^dsmipctl: 400 Bad Request \(body\.spi\): /) });
    expect(await ctl('revoke', 'nobody@example.net')).toMatchObject({ code: 1, err: 'dsmipctl: 404 Not Found (params.nai): no binding for nobody@example.net\n' });
    expect(await ctl('profile-delete', 'mn9@example.net')).toMatchObject({ code: 0 });
    expect(await ctl('frobnicate')).toMatchObject({ code: 2, err: expect.stringMatching(/unknown command frobnicate\nusage: dsmipctl/) });
  });
});
