/**
 * dsmipd as a process: started in the anchor's namespace on the lab's live
 * data plane, it answers a Binding Update sent from the mobile node's
 * namespace, and stops cleanly on SIGTERM leaving the data plane pinned.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addrBytes } from '../../control/dataplane/layout.js';
import { addr, buildTunnelLab, type TunnelLab } from '../../control/lab/tunnel-lab.js';
import { unwrapSignal, type SignalPacket } from '../../control/signalling/channel.js';
import { RawIpSocket } from '../../control/sys/libc.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { decodeMobilityHeader, encodeMobilityHeader } from '../../control/wire/mh/index.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
let t: TunnelLab;
let dir: string;
const atMobile: SignalPacket[] = [];

beforeAll(() => {
  t = buildTunnelLab('dsd');
  dir = mkdtempSync(join(tmpdir(), 'dsmipd-'));
  t.mn.dataPlane.onSignal((f) => atMobile.push(unwrapSignal(f)));
});
afterAll(() => {
  t?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('serves a Binding Update and stops on SIGTERM, leaving the data plane pinned', async () => {
  const config = join(dir, 'ha.json');
  writeFileSync(config, JSON.stringify({
    homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64'] },
    homeAgent: { ipv6: addr.anchorVisited.v6, ipv4: addr.anchorVisited.v4 },
    mobileNodes: [{ nai: 'mn@example.net', key: KEY.toString('hex'), spi: 300, homeAddress: addr.mnHome.v6 }],
  }));
  const daemon = spawn('nsenter', [`--net=/run/netns/${t.ns.anchor}`, process.execPath, '--import', 'tsx', 'control/cli/dsmipd.ts',
    '--config', config, '--instance', t.anchor.options.instance], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const serving = new Promise<void>((resolve) => createInterface({ input: daemon.stdout! }).on('line', (l) => {
    lines.push(l);
    if (l.includes('"msg":"serving"')) resolve();
  }));
  const exited = new Promise<number | null>((resolve) => daemon.on('exit', resolve));
  try {
    await serving;
    expect(JSON.parse(lines.find((l) => l.includes('serving'))!)).toMatchObject({ resumed: true });

    const mh = signMnHa(encodeMobilityHeader({
      type: 'bindingUpdate', sequence: 5, lifetime: 60, flags: { a: true, h: true, l: false, k: false, m: false, r: false, p: false, f: false, t: false },
      options: [{ type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn@example.net' }, { type: 'replayProtection', timestamp: ntpTimestamp(Date.now()) },
        { type: 'mobilityMessageAuthentication', subtype: 1, spi: 300, authenticator: Buffer.alloc(12) }],
    }), { key: KEY, spi: 300, careOf: addr.mnCareOf.v6, home: addr.mnHome.v6 });
    t.lab.within(t.mn.ns, () => {
      const s = new RawIpSocket(6);
      s.send(encodeSignalling6({ src: addr.mnCareOf.v6, dst: addr.anchorVisited.v6, homeAddressOption: addr.mnHome.v6, mh }), addrBytes(addr.anchorVisited.v6));
      s.close();
    });
    for (const end = Date.now() + 3000; atMobile.length === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect(decodeMobilityHeader(atMobile[0]!.signalling.mh)).toMatchObject({ type: 'bindingAcknowledgement', status: 0, sequence: 5, lifetime: 60 });
    expect(t.anchor.lookupEntry(addr.mnHome.v6)).toMatchObject({ format: 'ip6', remote: addr.mnCareOf.v6 });
  } finally {
    daemon.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  expect(existsSync(join(t.anchor.pinDir, 'home6'))).toBe(true);
});

it('refuses a bad configuration with every problem named, status 2, and no stack trace', async () => {
  const config = join(dir, 'bad.json');
  writeFileSync(config, JSON.stringify({ homeLink: { interface: 'a-home' }, homeAgent: { ipv6: 'nope' }, mobileNodes: [{ nai: 'x', key: 'zz', spi: 7, homeAddress: '2001:db8:1::1' }] }));
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'control/cli/dsmipd.ts', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => resolve({ code, err }));
  });
  expect(r.code).toBe(2);
  expect(r.err).toContain('homeAgent.ipv6: must be an IPv6 address, got "nope"');
  expect(r.err).toContain('mobileNodes[0].spi: must be an integer in 256..4294967295, got 7');
  expect(r.err).not.toMatch(/\n\s+at /);
});

it('refuses a log level it does not know with its usage, status 2', async () => {
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'control/cli/dsmipd.ts', '--config', 'any.json', '--log-level', 'chatty'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => resolve({ code, err }));
  });
  expect(r.code).toBe(2);
  expect(r.err).toContain('[--log-level debug|info|warn]');
});
