#!/usr/bin/env node
/**
 * dsmipctl: dsmipd from the command line, over its REST API.
 *
 *   dsmipctl [--url URL] [--token T] [--json] bindings [--nai NAI] [--home ADDR] [--care-of ADDR] [--nat yes|no]
 *   dsmipctl binding NAI          one binding with its live counters
 *   dsmipctl revoke NAI
 *   dsmipctl stats
 *   dsmipctl profiles             every profile (keys are never shown)
 *   dsmipctl profile NAI
 *   dsmipctl profile-set FILE     create or replace the profile in FILE (JSON)
 *   dsmipctl profile-delete NAI
 *
 * URL defaults to $DSMIPD_URL or http://127.0.0.1:9180, the token to
 * $DSMIPD_API_TOKEN. Tables for people, --json for scripts. Exit status 0
 * on success, 1 when the API refused (its message on stderr), 2 on usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = 'usage: dsmipctl [--url URL] [--token T] [--json] bindings [--nai N] [--home A] [--care-of A] [--nat yes|no] | binding NAI | revoke NAI | stats | profiles | profile NAI | profile-set FILE | profile-delete NAI';

type Json = Record<string, unknown>;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.DSMIPD_URL ?? 'http://127.0.0.1:9180' },
    token: { type: 'string', default: process.env.DSMIPD_API_TOKEN },
    json: { type: 'boolean', default: false },
    nai: { type: 'string' }, home: { type: 'string' }, 'care-of': { type: 'string' }, nat: { type: 'string' },
  },
});

class Refused extends Error {}

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, values.url), {
    method,
    headers: { ...(values.token && { authorization: `Bearer ${values.token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (res.status === 204) return null;
  const payload = await res.json() as Json;
  if (!res.ok) throw new Refused(`${res.status} ${payload.error}${payload.field ? ` (${payload.field})` : ''}: ${payload.message}`);
  return payload;
}

/** Columns padded to their widest cell. */
function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const tunnel = (t: Json) => `${t.format} ${t.local}${t.localPort ? `:${t.localPort}` : ''} → ${t.remote}${t.remotePort ? `:${t.remotePort}` : ''}`;

const bindingRows = (bs: Json[]) => table(['NAI', 'HOME', 'IPV4 HOME', 'CARE-OF', 'TUNNEL', 'NAT', 'EXPIRES', 'SEQ'],
  bs.map((b) => [String(b.nai), String(b.homeAddress), String(b.ipv4HomeAddress ?? '-'), String(b.careOf), tunnel(b.tunnel as Json),
    b.natDetected ? 'yes' : 'no', `${b.expiresIn} s`, String(b.sequence)]));

const profileRows = (ps: Json[]) => table(['NAI', 'SPI', 'HOME', 'IPV4 HOME', 'PREFIXES', 'ROUTER'],
  ps.map((p) => [String(p.nai), String(p.spi), String(p.homeAddress),
    typeof p.ipv4HomeAddress === 'object' ? `pool ${(p.ipv4HomeAddress as Json).pool}` : String(p.ipv4HomeAddress ?? '-'),
    ((p.prefixes as string[] | undefined) ?? []).join(',') || '-', p.mobileRouter ? 'yes' : 'no']));

function counts(title: string, r: Json): string {
  const entries = Object.entries(r).filter(([, v]) => Number(v) > 0);
  return `${title}: ${entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`;
}

async function run([command, arg]: string[]): Promise<string> {
  const need = (what: string) => {
    if (!arg) throw new Usage(`${command} needs ${what}`);
    return encodeURIComponent(arg);
  };
  switch (command) {
    case 'bindings': {
      const q = new URLSearchParams();
      if (values.nai) q.set('nai', values.nai);
      if (values.home) q.set('homeAddress', values.home);
      if (values['care-of']) q.set('careOf', values['care-of']);
      if (values.nat) q.set('nat', String(values.nat === 'yes' || values.nat === 'true'));
      const bs = await call('GET', `/bindings${q.size ? `?${q}` : ''}`) as Json[];
      return values.json ? JSON.stringify(bs, null, 2) : bs.length ? bindingRows(bs) : 'no bindings';
    }
    case 'binding': {
      const b = await call('GET', `/bindings/${need('a NAI')}`) as Json;
      if (values.json) return JSON.stringify(b, null, 2);
      const c = b.counters as Json;
      return `${bindingRows([b])}\n\ntunnelled: ${(b.tunnelled as string[]).join(', ')}\nto the node:   ${c.encapPackets} packets, ${c.encapBytes} bytes\nfrom the node: ${c.decapPackets} packets, ${c.decapBytes} bytes`;
    }
    case 'revoke':
      await call('DELETE', `/bindings/${need('a NAI')}`);
      return values.json ? '{}' : `binding of ${arg} revoked`;
    case 'stats': {
      const s = await call('GET', '/stats') as Json;
      if (values.json) return JSON.stringify(s, null, 2);
      const b = s.bindings as Json;
      const dp = s.dataPlane as Json;
      return [`bindings: ${b.total} (${b.natted} behind a NAT) ${counts('by format', b.byFormat as Json).replace('by format: ', '')}`,
        counts('BAs by status', s.answered as Json), counts('data-plane drops', dp.drops as Json), counts('data-plane events', dp.events as Json)].join('\n');
    }
    case 'profiles': {
      const ps = await call('GET', '/profiles') as Json[];
      return values.json ? JSON.stringify(ps, null, 2) : ps.length ? profileRows(ps) : 'no profiles';
    }
    case 'profile': {
      const p = await call('GET', `/profiles/${need('a NAI')}`) as Json;
      return values.json ? JSON.stringify(p, null, 2) : profileRows([p]);
    }
    case 'profile-set': {
      if (!arg) throw new Usage('profile-set needs a JSON file');
      const body = JSON.parse(readFileSync(arg, 'utf8')) as Json;
      const p = await call('PUT', `/profiles/${encodeURIComponent(String(body.nai))}`, body) as Json;
      return values.json ? JSON.stringify(p, null, 2) : `profile ${p.nai} saved`;
    }
    case 'profile-delete':
      await call('DELETE', `/profiles/${need('a NAI')}`);
      return values.json ? '{}' : `profile ${arg} deleted`;
    default:
      throw new Usage(command ? `unknown command ${command}` : 'a command is needed');
  }
}

class Usage extends Error {}

try {
  process.stdout.write(`${await run(positionals)}\n`);
} catch (err) {
  process.stderr.write(`dsmipctl: ${(err as Error).message}${err instanceof Usage ? `\n${USAGE}` : ''}\n`);
  process.exitCode = err instanceof Usage ? 2 : 1;
}
