/**
 * The binding cache's journal and a home agent rebuilt from it: the same
 * entries (sequence numbers, timestamps, lifetimes, leases), the data plane
 * reconciled to them; the file's slots rewritten in place, damage survived.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Binding } from '../../control/dataplane/dataplane.js';
import { parseHomeAgentConfig } from '../../control/ha/config.js';
import { HomeAgent, type BindingCacheEntry, type ReceivedBu } from '../../control/ha/home-agent.js';
import { BindingJournal, recordBytesBound, copySizeFor } from '../../control/ha/journal.js';
import { MAX_PROFILE_PREFIXES } from '../../control/ha/config.js';
import { signMnHa } from '../../control/wire/auth/mipv6.js';
import { ntpTimestamp } from '../../control/wire/auth/replay.js';
import { decodeMobilityHeader, encodeMobilityHeader, type MobilityOption } from '../../control/wire/mh/index.js';

const KEY = '00112233445566778899aabbccddeeff00112233';
const HA6 = '2001:db8:f::1';
const profiles = [
  { nai: 'mn1@example.net', key: KEY, spi: 4096, homeAddress: '2001:db8:1::100', ipv4HomeAddress: '10.1.0.100' },
  { nai: 'mn2@example.net', key: KEY, spi: 4097, homeAddress: '2001:db8:1::200', ipv4HomeAddress: { pool: 'visitors' } },
];
const config = (mobileNodes: object[] = profiles) => parseHomeAgentConfig({
  homeLink: { interface: 'h0', prefixes: ['2001:db8:1::/64'] }, homeAgent: { ipv6: HA6 },
  pools: { visitors: { from: '10.1.0.200', to: '10.1.0.201' } }, mobileNodes,
});

function bu(who: 0 | 1, seq: number, atMs: number, options: MobilityOption[] = [], lifetime = 600): ReceivedBu {
  const p = profiles[who]!;
  const careOf = `2001:db8:f::${who + 2}`;
  const mh = signMnHa(encodeMobilityHeader({
    type: 'bindingUpdate', sequence: seq, lifetime, flags: { a: true, h: true, l: false, k: false, m: false, r: false, p: false, f: false, t: false },
    options: [...options, { type: 'mobileNodeIdentifier', subtype: 1, identifier: p.nai }, { type: 'replayProtection', timestamp: ntpTimestamp(atMs) },
      { type: 'mobilityMessageAuthentication', subtype: 1, spi: p.spi, authenticator: Buffer.alloc(12) }],
  }), { key: Buffer.from(KEY, 'hex'), spi: p.spi, careOf, home: p.homeAddress });
  return { transport: 'ipv6', outer: { src: careOf, dst: HA6 }, ipv6Src: careOf, homeAddressOption: p.homeAddress, mh, nowMs: atMs };
}
const dynamic: MobilityOption[] = [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '0.0.0.0' }];

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'journal-'));
  path = join(dir, 'bindings.journal');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A home agent whose every change goes to the journal at path, as the daemon wires it. */
function journaled(entries?: { held: Map<number, Binding> }) {
  const { journal, entries: kept, problems } = BindingJournal.open(path);
  const ha: HomeAgent = new HomeAgent(config(), (nai, e) => journal.record(nai, e, () => ha.entries()));
  const restored = entries ? ha.restore(kept, entries.held) : undefined;
  return { ha, journal, problems, restored };
}

describe('a home agent rebuilt from its journal', () => {
  it('has the same entries, answers an old sequence number with 135 and the next one with 0', () => {
    const before = journaled();
    const t0 = 1_000_000;
    before.ha.handleBindingUpdate(bu(0, 7, t0));
    before.ha.handleBindingUpdate(bu(1, 3, t0 + 10, dynamic));
    const bindings = new Map(before.ha.bindings().map((e) => [e.bindingId, e.binding]));

    const after = journaled({ held: bindings });
    expect(after.restored).toEqual({ dataPlane: [], warnings: [], events: ['journal: 2 bindings and 0 deprecated entries restored'] });
    expect(after.ha.bindings()).toEqual(before.ha.bindings());
    expect(after.ha.binding('mn1@example.net')?.lastTimestamp).toBe(ntpTimestamp(t0)); // a bigint, through JSON
    expect(decodeMobilityHeader(after.ha.handleBindingUpdate(bu(0, 7, t0 + 20)).reply!.mh)).toMatchObject({ status: 135, sequence: 7 });
    expect(decodeMobilityHeader(after.ha.handleBindingUpdate(bu(0, 8, t0 + 30)).reply!.mh)).toMatchObject({ status: 0, sequence: 8 });
  });

  it('keeps a node\'s pool lease: the address is still its own, and no one else\'s', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(1, 1, 1_000_000, dynamic));
    expect(before.ha.binding('mn2@example.net')?.ipv4HomeAddress).toBe('10.1.0.200');
    const after = journaled({ held: new Map() });
    const again = after.ha.handleBindingUpdate(bu(1, 2, 1_000_100, [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.200' }]));
    expect(decodeMobilityHeader(again.reply!.mh)).toMatchObject({ options: expect.arrayContaining([{ type: 'ipv4AddressAcknowledgement', status: 0, prefixLength: 32, address: '10.1.0.200' }]) });
  });

  it('keeps deprecated entries, and expires what ran out while it was down', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(0, 1, 1_000_000, [], 60));
    before.ha.handleBindingUpdate(bu(1, 1, 1_000_000));
    before.ha.handleBindingUpdate(bu(1, 2, 1_000_100, [], 0)); // deregistered: deprecated for 10 s
    const after = journaled({ held: new Map([[1, before.ha.binding('mn1@example.net')!.binding]]) });
    expect(after.restored!.events).toContain('journal: 1 bindings and 1 deprecated entries restored');
    expect(after.ha.expire(1_061_000)).toEqual([{ dataPlane: [{ remove: 1 }], event: 'binding of mn1@example.net expired' }]);
    expect([...after.ha.entries()]).toEqual([]);
  });

  it('makes the data plane match: an unexplained binding goes, a missing one is installed', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    const orphan: Binding = { id: 9, tunnel: { format: 'ip6', local: HA6, remote: '2001:db8:f::9' }, homeAddresses: ['2001:db8:1::999'], prefixes: [] };
    const after = journaled({ held: new Map([[9, orphan]]) });
    expect(after.restored!.dataPlane).toEqual([{ remove: 9 }, { install: before.ha.binding('mn1@example.net')!.binding }]);
  });

  it('drops entries of nodes no longer configured, and keeps ids when the configuration is reordered', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(1, 1, 1_000_000)); // mn2: binding id 2
    const { entries } = BindingJournal.open(path);
    const reordered = new HomeAgent(config([profiles[1]!, { ...profiles[0]!, nai: 'new@example.net', spi: 5000 }]));
    const r = reordered.restore(entries, new Map());
    expect(r.dataPlane).toEqual([{ install: expect.objectContaining({ id: 2 }) }]);
    expect(reordered.binding('mn2@example.net')?.bindingId).toBe(2);
  });
});

describe('entries the configuration no longer allows (edited while the daemon was down)', () => {
  it('are dropped, and their bindings leave the data plane', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(0, 1, 1_000_000, [{ type: 'ipv4HomeAddress', prefixLength: 32, p: false, address: '10.1.0.100' }]));
    before.ha.handleBindingUpdate(bu(1, 1, 1_000_000, dynamic));
    const held = new Map(before.ha.bindings().map((e) => [e.bindingId, e.binding]));
    const { entries } = BindingJournal.open(path);
    const edited = new HomeAgent(config([{ ...profiles[0]!, ipv4HomeAddress: '10.1.0.101' }, { ...profiles[1]!, homeAddress: '2001:db8:1::222' }]));
    const r = edited.restore(entries, held);
    expect(r.warnings).toEqual([
      'journal: mn1@example.net had 10.1.0.100, now 10.1.0.101: dropped',
      'journal: mn2@example.net had home address 2001:db8:1::200, now 2001:db8:1::222: dropped',
      'journal: data-plane binding 1 belongs to no entry: removed',
      'journal: data-plane binding 2 belongs to no entry: removed',
    ]);
    expect(r.events).toEqual(['journal: 0 bindings and 0 deprecated entries restored']);
    expect(r.dataPlane).toEqual([{ remove: 1 }, { remove: 2 }]);
  });
});

describe('the journal file', () => {
  const COPY = 1024;
  const SLOT = 2 * COPY; // two copies of the record, the newer one current
  const FILE = 64 * SLOT; // room for binding ids up to 63 at first
  const HEADER = 'mobility-anchor binding cache v2: slots of two copies of 1024 bytes\n';
  /** A slot's newer copy: its sequence number, its record's length and text. */
  const newest = (id: number) => {
    const file = readFileSync(path);
    const [a, b] = [id * SLOT, id * SLOT + COPY];
    const at = file.readInt32LE(b) > file.readInt32LE(a) ? b : a;
    const length = file.readUInt16LE(at + 4);
    return { at, seq: file.readInt32LE(at), length, text: file.toString('utf8', at + 6, at + 6 + length) };
  };
  /** A record's bytes as a copy holds them. */
  const copyOf = (seq: number, text: string) => {
    const copy = Buffer.alloc(COPY);
    copy.writeInt32LE(seq, 0);
    copy.writeUInt16LE(copy.write(text, 6), 4);
    return copy;
  };

  it('rewrites a node\'s slot in place: the file does not grow with the BUs', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(1, 1, 1_000_000, dynamic));
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    expect(statSync(path).size).toBe(FILE); // the header, then binding ids 1 and 2 (and room for more)
    for (let seq = 2; seq <= 3000; seq++) j.ha.handleBindingUpdate(bu(0, seq, 1_000_000 + seq));
    expect(statSync(path).size).toBe(FILE);
    expect(readFileSync(path, 'latin1').startsWith(HEADER)).toBe(true);
    const { text, seq } = newest(1);
    expect(seq).toBe(3000); // every write a copy: the two took turns
    expect(JSON.parse(text)).toMatchObject({ nai: 'mn1@example.net', entry: { sequence: 3000, lastTimestamp: ntpTimestamp(1_003_000).toString() } });
    expect(BindingJournal.open(path).entries.map((e) => [e.nai, e.sequence])).toEqual([['mn1@example.net', 3000], ['mn2@example.net', 1]]);
  });

  it('after a failed write, repair() rewrites the file whole: a restart finds the cache as it is', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    expect(j.journal.repair(() => j.ha.entries(), 0)).toBe(false); // nothing failed: nothing to do
    j.journal.close(); // every write fails from here
    expect(() => j.ha.handleBindingUpdate(bu(0, 2, 1_000_010, [], 0))).toThrow(); // deregistered, not journalled
    expect(j.journal.stale).toBe(true);
    expect(BindingJournal.open(path).entries.map((e) => [e.sequence, e.deprecatedUntilMs !== undefined])).toEqual([[1, false]]);
    expect(j.journal.repair(() => j.ha.entries(), 0)).toBe(true);
    expect(j.journal.stale).toBe(false);
    expect(BindingJournal.open(path).entries.map((e) => [e.sequence, e.deprecatedUntilMs !== undefined])).toEqual([[2, true]]);
  });

  it('puts repair() off after it fails, doubling the wait: a full disk is not rewritten every second', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    j.journal.close();
    expect(() => j.ha.handleBindingUpdate(bu(0, 2, 1_000_010))).toThrow();
    rmSync(dir, { recursive: true }); // nowhere to write the new file
    expect(() => j.journal.repair(() => j.ha.entries(), 0)).toThrow();
    expect(j.journal.repair(() => j.ha.entries(), 999)).toBe(false); // not yet
    expect(() => j.journal.repair(() => j.ha.entries(), 1000)).toThrow(); // tried again, and failed again: 2 s now
    mkdirSync(dir);
    expect(j.journal.repair(() => j.ha.entries(), 2999)).toBe(false);
    expect(j.journal.repair(() => j.ha.entries(), 3000)).toBe(true);
    expect(BindingJournal.open(path).entries.map((e) => e.sequence)).toEqual([2]);
  });

  it('empties the slot of an entry that left the cache', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    j.ha.handleBindingUpdate(bu(1, 1, 1_000_000));
    j.ha.deleteProfile('mn2@example.net');
    expect(newest(2).length).toBe(0);
    expect(readFileSync(path).includes('mn2@example.net')).toBe(false); // neither copy keeps it
    expect(BindingJournal.open(path).entries.map((e) => e.nai)).toEqual(['mn1@example.net']);
  });

  it('skips a slot that does not hold an entry, naming it, and keeps the rest', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    j.ha.handleBindingUpdate(bu(1, 1, 1_000_000));
    j.journal.close();
    const file = readFileSync(path);
    file.fill(0, 2 * SLOT + 40, 2 * SLOT + 60); // the length stands, the text is damaged (its only copy)
    writeFileSync(path, file);
    const { entries, problems } = BindingJournal.open(path);
    expect(entries.map((e) => e.nai)).toEqual(['mn1@example.net']);
    expect(problems).toEqual([expect.stringMatching(/bindings\.journal: slot 2: newer copy: .*JSON.*: skipped/)]);
  });

  it('reads as it was after a write cut short (the daemon killed in the middle): the copy written last stands', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    j.ha.handleBindingUpdate(bu(0, 2, 1_000_010));
    j.journal.close();
    const file = readFileSync(path);
    const older = newest(1).at === SLOT ? SLOT + COPY : SLOT; // where the next write would go
    file.write('{"nai":"mn1@example.net","entry":{"sequence":3,"nai":"mn1', older + 6); // its text half there, its number not yet
    writeFileSync(path, file);
    expect(BindingJournal.open(path)).toMatchObject({ entries: [{ nai: 'mn1@example.net', sequence: 2 }], problems: [] });
  });

  it('opens a file cut short (a copied or truncated journal): what it holds is read, the rest of the slots made again', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    j.journal.close();
    writeFileSync(path, readFileSync(path).subarray(0, 2 * SLOT + 100)); // binding id 1 whole, then a piece of id 2
    const { journal, entries } = BindingJournal.open(path);
    expect(entries.map((e) => e.nai)).toEqual(['mn1@example.net']);
    expect(statSync(path).size).toBe(FILE);
    journal.close();
  });

  it('takes the older copy when the newer one is damaged, and says so', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    j.ha.handleBindingUpdate(bu(0, 2, 1_000_010));
    j.journal.close();
    const file = readFileSync(path);
    file.fill(0x7b, newest(1).at + 6, newest(1).at + 20);
    writeFileSync(path, file);
    const { entries, problems } = BindingJournal.open(path);
    expect(entries.map((e) => e.sequence)).toEqual([1]);
    expect(problems).toEqual([expect.stringMatching(/slot 1: newer copy: .*: skipped/), expect.stringMatching(/slot 1: its older copy taken instead/)]);
  });

  it('takes the newer entry of a node found in two slots (a move between binding ids, cut short)', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    const old = newest(1).text;
    j.ha.handleBindingUpdate(bu(0, 2, 1_000_010));
    j.journal.close();
    const file = readFileSync(path);
    copyOf(1, old.replace('"bindingId":1', '"bindingId":5')).copy(file, 5 * SLOT);
    writeFileSync(path, file);
    expect(BindingJournal.open(path).entries.map((e) => [e.bindingId, e.sequence])).toEqual([[1, 2]]);
  });

  it('doubles its slots when an entry outgrows them', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    const entry = j.ha.binding('mn1@example.net')!;
    const prefixes = Array.from({ length: 24 }, (_, i) => `2001:db8:${(0x1000 + i).toString(16)}:ffff::/64`);
    j.journal.record(entry.nai, { ...entry, binding: { ...entry.binding, prefixes } }, () => j.ha.entries());
    expect(readFileSync(path, 'latin1').startsWith('mobility-anchor binding cache v2: slots of two copies of 2048 bytes\n')).toBe(true);
    expect(statSync(path).size).toBe(64 * 2 * 2048);
    expect(BindingJournal.open(path).entries[0]!.binding.prefixes).toEqual(prefixes);
  });

  it.each([
    ['text', 'something else entirely\n'],
    ['JSON of another kind (a configuration given by mistake)', '{ "homeLink": { "interface": "home0" },\n  "mobileNodes": [] }\n'],
  ])('refuses a file that is neither (%s), rather than overwrite it', (_what, content) => {
    writeFileSync(path, content);
    expect(() => BindingJournal.open(path)).toThrow(`${path}: neither a binding cache journal nor one of the JSON-lines format before it: move it aside`);
    expect(readFileSync(path, 'utf8')).toBe(content);
  });

  it('sizes its slots for the longest entry the profiles allow: no growing while BUs wait', () => {
    const nai = `${'n'.repeat(250)}@b.c`; // the longest NAI a profile may have
    const prefixes = Array.from({ length: MAX_PROFILE_PREFIXES }, (_, i) => `ffff:ffff:ffff:ffff:ffff:ffff:ffff:${(0xff00 + i).toString(16)}/128`);
    expect(copySizeFor([{ nai: 'mn1@example.net', prefixes: [] }])).toBe(1024);
    const size = copySizeFor([{ nai: 'mn1@example.net', prefixes: [] }, { nai, prefixes }]);
    expect(size).toBe(4096);
    const { journal } = BindingJournal.open(path, size);
    const A = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', V4 = '255.255.255.255';
    const tunnel = { format: 'udp4-tlv' as const, local: A, remote: A, localPort: 65535, remotePort: 65535 };
    const widest: BindingCacheEntry = { // every field at its longest
      nai, bindingId: 3, homeAddress: A, ipv4HomeAddress: V4, careOf: A, natDetected: true, tunnel, sequence: 65535, lifetime: 262140,
      expiresMs: 9_999_999_999_999, lastTimestamp: 0xffffffffffffffffn, refreshRequested: true, linkLocal: 'fe80::ffff:ffff:ffff:ffff', router: true, deprecatedUntilMs: 9_999_999_999_999,
      route: { transport: 'udp4', src: V4, dst: V4, srcPort: 65535, dstPort: 65535, ipv6Src: A, ipv6Dst: A },
      binding: { id: 3, tunnel, homeAddresses: [A, 'fe80::ffff:ffff:ffff:ffff', V4], prefixes },
    };
    journal.record(nai, widest, () => [widest]);
    const file = readFileSync(path);
    expect(file.toString('latin1', 0, 68)).toBe('mobility-anchor binding cache v2: slots of two copies of 4096 bytes\n');
    expect(recordBytesBound(nai, prefixes) - file.readUInt16LE(3 * 2 * 4096 + 4)).toBeGreaterThanOrEqual(5); // binding id 3 here, up to 131072
    expect(BindingJournal.open(path, size).entries).toEqual([widest]);
  });

  it('journals a Binding Refresh Request sent, so that a restart does not send it again', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000)); // 600 s, refresh requested 30 s before expiry
    expect(j.ha.expire(1_570_000)).toMatchObject([{ event: 'binding refresh requested from mn1@example.net' }]);
    const after = journaled({ held: new Map([[1, j.ha.binding('mn1@example.net')!.binding]]) });
    expect(after.ha.binding('mn1@example.net')?.refreshRequested).toBe(true);
    expect(after.ha.expire(1_571_000)).toEqual([]);
  });

  it('reads a journal of the JSON-lines format of earlier versions, skipping a torn last line, and rewrites it in slots', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    const entry = before.ha.binding('mn1@example.net')!;
    before.journal.close();
    const line = (e: object) => `${JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
    writeFileSync(path, line({ nai: entry.nai, entry }) + line({ nai: 'mn2@example.net', gone: true }) + '{"nai":"mn2@example.net","entry":{"nai":"mn2');
    const { journal, entries, problems } = BindingJournal.open(path);
    expect(entries).toEqual([entry]);
    expect(problems).toEqual([expect.stringMatching(/bindings\.journal:3: .*: line skipped/)]);
    journal.close();
    expect(BindingJournal.open(path)).toMatchObject({ entries: [entry], problems: [] });
    expect(statSync(path).size).toBe(FILE);
  });

  it('skips, naming the field, an entry whose record still parses but holds what no entry can (an address, a binding id): the rest start', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    before.ha.handleBindingUpdate(bu(1, 1, 1_000_000, dynamic));
    const entry = before.ha.binding('mn1@example.net')!;
    before.journal.close();
    const file = readFileSync(path);
    const at = file.indexOf('"ipv4HomeAddress":"10.1.0.200"');
    expect(at).toBeGreaterThan(0);
    file.write('"ipv4HomeAddress":"10.1.0.2x0"', at, 'latin1'); // as long as it was: the copy's length still holds
    writeFileSync(path, file);
    const damaged = BindingJournal.open(path);
    damaged.journal.close();
    expect(damaged.entries.map((e) => e.nai)).toEqual(['mn1@example.net']);
    expect(damaged.problems).toEqual([expect.stringMatching(/slot 2: newer copy: ipv4HomeAddress: must be an IPv4 address, got "10\.1\.0\.2x0": skipped$/)]);
    const line = (e: object) => `${JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
    writeFileSync(path, line({ nai: entry.nai, entry }) + line({ nai: 'mn2@example.net', entry: { ...entry, nai: 'mn2@example.net', bindingId: 1e12 } })
      + line({ nai: 'mn3@example.net', entry: { ...entry, nai: 'mn3@example.net', bindingId: 3, tunnel: { ...entry.tunnel, mtu: 70000 } } })
      + line({ nai: 'mn4@example.net', entry: { ...entry, nai: 'mn4@example.net', bindingId: 4, lastTimestamp: (1n << 64n).toString() } }));
    const old = BindingJournal.open(path); // (a binding id that large made the file grow past what the system allows; an MTU that large, the data plane's encoding throw)
    expect(old.entries.map((e) => e.nai)).toEqual(['mn1@example.net']);
    expect(old.problems).toEqual([
      expect.stringMatching(/bindings\.journal:2: bindingId: must be an integer in 1\.\.131071, got 1000000000000: line skipped$/),
      expect.stringMatching(/bindings\.journal:3: tunnel\.mtu: must be an integer in 0\.\.65535, got 70000: line skipped$/),
      expect.stringMatching(/bindings\.journal:4: lastTimestamp: must be a decimal string of an NTP timestamp \(below 2\^64\), got "18446744073709551616": line skipped$/),
    ]);
    old.journal.close();
  });

  it('reads a journal of the one-copy slot format before, and rewrites it in two-copy slots', () => {
    const before = journaled();
    before.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    const entry = before.ha.binding('mn1@example.net')!;
    const text = newest(1).text;
    before.journal.close();
    const v1 = Buffer.alloc(2 * 1024); // its header slot, then binding id 1: length (16 bits), JSON
    v1.write('mobility-anchor binding cache, slots of 1024 bytes\n');
    v1.writeUInt16LE(v1.write(text, 1024 + 2), 1024);
    writeFileSync(path, v1);
    const { journal, entries, problems } = BindingJournal.open(path);
    expect({ entries, problems }).toEqual({ entries: [entry], problems: [] });
    journal.close();
    expect(readFileSync(path, 'latin1').startsWith(HEADER)).toBe(true);
    expect(BindingJournal.open(path).entries).toEqual([entry]);
  });
});

describe('a record written from parts of the last', () => {
  it("takes an entry journalled before entries said R for a mobile router's if it holds IPv6 mobile network prefixes", () => {
    const { journal } = BindingJournal.open(path);
    const tunnel = { format: 'ip6' as const, local: HA6, remote: '2001:db8:e::1' };
    const entry = (bindingId: number, prefixes: string[]): BindingCacheEntry => ({ nai: `mr${bindingId}@example.net`, bindingId, homeAddress: `2001:db8:1::${bindingId}`, careOf: '2001:db8:e::1',
      natDetected: false, tunnel, sequence: 1, lifetime: 600, expiresMs: 1_000_000, lastTimestamp: 5n, route: { transport: 'ipv6', src: HA6, dst: '2001:db8:e::1' },
      binding: { id: bindingId, tunnel, homeAddresses: [`2001:db8:1::${bindingId}`], prefixes }, refreshRequested: false });
    for (const e of [entry(1, ['2001:db8:300::/48']), entry(2, ['10.40.0.0/16']), entry(3, [])]) journal.record(e.nai, e, () => []);
    journal.close();
    const reread = BindingJournal.open(path);
    reread.journal.close();
    expect(reread.entries.map((e) => [e.nai, e.router])).toEqual([['mr1@example.net', true], ['mr2@example.net', undefined], ['mr3@example.net', undefined]]);
  });

  it('holds each entry as it is, whether its base, care-of part or tail changed (read back after every write)', () => {
    const { journal } = BindingJournal.open(path);
    const tunnel = { format: 'ip6' as const, local: HA6, remote: '2001:db8:e::1' };
    const route = { transport: 'ipv6' as const, src: HA6, dst: '2001:db8:e::1', routingHeader2: '2001:db8:1::100' };
    const binding = { id: 1, tunnel, homeAddresses: ['2001:db8:1::100'], prefixes: [] };
    const first: BindingCacheEntry = { nai: 'mn1@example.net', bindingId: 1, homeAddress: '2001:db8:1::100', careOf: '2001:db8:e::1', natDetected: false, tunnel,
      sequence: 1, lifetime: 600, expiresMs: 1_000_000, lastTimestamp: 5n, route, binding, refreshRequested: false };
    const moved = { ...tunnel, remote: '2001:db8:e::2' };
    const steps: BindingCacheEntry[] = [
      first,
      { ...first, sequence: 2, expiresMs: 1_001_000, lastTimestamp: 6n }, // a refresh: the same objects
      { ...first, sequence: 3, lastTimestamp: 7n, careOf: '2001:db8:e::2', tunnel: moved, route: { ...route, dst: '2001:db8:e::2' }, binding: { ...binding, tunnel: moved } }, // a move
      { ...first, sequence: 4, lastTimestamp: 8n, refreshRequested: true }, // back, the refresh requested
      { ...first, sequence: 5, lastTimestamp: 9n, lifetime: 300 }, // a new base
      { ...first, sequence: 6, lastTimestamp: 10n, lifetime: 0, deprecatedUntilMs: 2_000_000 }, // deprecated
    ];
    let previous: BindingCacheEntry | undefined;
    for (const e of steps) {
      // each step's objects as the home agent would hand them over: a refresh keeps the last entry's
      const entry = previous && e.tunnel === first.tunnel && e.lifetime === previous.lifetime && e.careOf === previous.careOf ? { ...e, tunnel: previous.tunnel, route: previous.route, binding: previous.binding } : e;
      journal.record(entry.nai, entry, () => [entry]);
      const reread = BindingJournal.open(path);
      expect(reread.entries).toEqual([entry]);
      reread.journal.close();
      previous = entry;
    }
    journal.close();
  });
  it('notices a change to any one field of an entry whose other fields are the same objects', () => {
    const { journal } = BindingJournal.open(path);
    const tunnel = { format: 'ip6' as const, local: HA6, remote: '2001:db8:e::1' };
    const route = { transport: 'ipv6' as const, src: HA6, dst: '2001:db8:e::1', routingHeader2: '2001:db8:1::100' };
    const homeAddresses = ['2001:db8:1::100'], prefixes: string[] = [];
    const binding = { id: 1, tunnel, homeAddresses, prefixes };
    const moved = { ...tunnel, remote: '2001:db8:e::2' };
    const base: BindingCacheEntry = { nai: 'mn1@example.net', bindingId: 1, homeAddress: '2001:db8:1::100', careOf: '2001:db8:e::1', natDetected: false, tunnel,
      sequence: 1, lifetime: 600, expiresMs: 1_000_000, lastTimestamp: 5n, route, binding, refreshRequested: false };
    // one change per field of the record (the same nai and binding id: the node's own slot)
    const changes: Partial<BindingCacheEntry>[] = [
      { homeAddress: '2001:db8:1::101' }, { ipv4HomeAddress: '10.1.0.100' }, { careOf: '2001:db8:e::2' }, { natDetected: true }, { tunnel: moved, binding: { ...binding, tunnel: moved } }, // (a binding's tunnel is its entry's)
      { sequence: 2 }, { lifetime: 300 }, { expiresMs: 2_000_000 }, { lastTimestamp: 6n }, { route: { ...route, dst: '2001:db8:e::2' } },
      { binding: { ...binding, homeAddresses: ['2001:db8:1::100', '10.1.0.100'] } }, { binding: { ...binding, prefixes: ['2001:db8:300::/48'] }, router: true }, // (a mobile router's)
      { refreshRequested: true }, { linkLocal: 'fe80::100' }, { deprecatedUntilMs: 3_000_000 },
    ];
    const fields = new Set(changes.flatMap((c) => Object.keys(c)));
    expect([...fields].sort()).toEqual(Object.keys({ ...base, ipv4HomeAddress: 0, linkLocal: 0, router: 0, deprecatedUntilMs: 0 }).filter((k) => k !== 'nai' && k !== 'bindingId').sort()); // every field
    for (const change of changes) {
      journal.record(base.nai, base, () => [base]);
      const changed = { ...base, ...change };
      journal.record(changed.nai, changed, () => [changed]);
      const reread = BindingJournal.open(path);
      expect(reread.entries, JSON.stringify(change, (_, v) => (typeof v === 'bigint' ? `${v}` : v))).toEqual([changed]);
      reread.journal.close();
    }
    journal.close();
  });

  it('zeroes what a copy held past its new record: nothing of a longer record before it stays', () => {
    const { journal } = BindingJournal.open(path);
    const entry = (careOf: string, sequence: number): BindingCacheEntry => {
      const tunnel = { format: 'ip6' as const, local: HA6, remote: careOf };
      return { nai: 'mn1@example.net', bindingId: 1, homeAddress: '2001:db8:1::100', careOf, natDetected: false, tunnel, sequence, lifetime: 600, expiresMs: 1_000_000,
        lastTimestamp: 5n, route: { transport: 'ipv6', src: HA6, dst: careOf }, binding: { id: 1, tunnel, homeAddresses: ['2001:db8:1::100'], prefixes: [] }, refreshRequested: false };
    };
    const long = '2001:db8:eeee:eeee:eeee:eeee:eeee:eeee';
    const [COPY, SLOT] = [1024, 2048]; // slot 1: its two copies
    const copies = () => {
      const file = readFileSync(path);
      return [SLOT, SLOT + COPY].map((at) => ({ length: file.readUInt16LE(at + 4), text: file.toString('latin1', at + 6, at + 6 + file.readUInt16LE(at + 4)), rest: file.subarray(at + 6 + file.readUInt16LE(at + 4), at + COPY) }));
    };
    journal.record('mn1@example.net', entry(long, 1), () => []);
    journal.record('mn1@example.net', entry(long, 2), () => []);
    const before = copies().map((c) => c.length);
    journal.record('mn1@example.net', entry('2001:db8:e::1', 3), () => []); // each copy in turn gets a shorter record
    journal.record('mn1@example.net', entry('2001:db8:e::1', 4), () => []);
    for (const [i, c] of copies().entries()) {
      expect(c.length).toBeLessThan(before[i]!);
      expect(c.text).not.toContain('eeee');
      expect(c.rest.every((b) => b === 0)).toBe(true);
    }
    journal.close();
  });

  it('writes a base into a copy only when the copy does not hold it: both copies read as the last two entries after every write', () => {
    const { journal } = BindingJournal.open(path);
    const [COPY, SLOT] = [1024, 2048];
    const copies = () => {
      const file = readFileSync(path);
      return [SLOT, SLOT + COPY].filter((at) => file.readUInt16LE(at + 4) > 0) // (the second copy is empty until the second write)
        .map((at) => JSON.parse(file.toString('utf8', at + 6, at + 6 + file.readUInt16LE(at + 4))) as { entry: { sequence: number; careOf: string; lifetime: number } });
    };
    const tunnel = { format: 'ip6' as const, local: HA6, remote: '2001:db8:e::1' };
    const route = { transport: 'ipv6' as const, src: HA6, dst: '2001:db8:e::1' };
    const first: BindingCacheEntry = { nai: 'mn1@example.net', bindingId: 1, homeAddress: '2001:db8:1::100', careOf: '2001:db8:e::1', natDetected: false, tunnel,
      sequence: 1, lifetime: 600, expiresMs: 1_000_000, lastTimestamp: 5n, route, binding: { id: 1, tunnel, homeAddresses: ['2001:db8:1::100'], prefixes: [] }, refreshRequested: false };
    const moveTo = (e: BindingCacheEntry, careOf: string): BindingCacheEntry => {
      const t = { ...e.tunnel, remote: careOf };
      return { ...e, careOf, tunnel: t, route: { ...e.route, dst: careOf }, binding: { ...e.binding, tunnel: t } };
    };
    // refreshes and moves share a base (the same objects); a lifetime of another value is a new base, and 600 again a new one of the old text
    const steps: ((e: BindingCacheEntry) => BindingCacheEntry)[] = [
      (e) => e, (e) => moveTo(e, '2001:db8:e::2'), (e) => e, (e) => moveTo(e, '2001:db8:eeee:eeee::3'), (e) => ({ ...e, lifetime: 300 }), (e) => e,
      (e) => moveTo(e, '2001:db8:e::4'), (e) => ({ ...e, lifetime: 600, binding: { ...e.binding, homeAddresses: [...e.binding.homeAddresses] } }), (e) => e, (e) => moveTo(e, '2001:db8:e::5'),
    ];
    let entry = first;
    const written: BindingCacheEntry[] = [];
    for (const step of steps) {
      entry = { ...step(entry), sequence: written.length + 1 };
      journal.record(entry.nai, entry, () => [entry]);
      written.push(entry);
      const held = copies().map((c) => c.entry).sort((a, b) => b.sequence - a.sequence);
      expect(held.map((c) => [c.sequence, c.careOf, c.lifetime])).toEqual(written.slice(-2).reverse().map((e) => [e.sequence, e.careOf, e.lifetime]));
    }
    journal.close();
  });

  it('moves a node to another slot: the old one cleared, the new one kept, and both gone when it leaves', () => {
    const { journal } = BindingJournal.open(path);
    const tunnel = { format: 'ip6' as const, local: HA6, remote: '2001:db8:e::1' };
    const entry = (bindingId: number): BindingCacheEntry => ({ nai: 'mn1@example.net', bindingId, homeAddress: '2001:db8:1::100', careOf: '2001:db8:e::1', natDetected: false, tunnel,
      sequence: 1, lifetime: 600, expiresMs: 1_000_000, lastTimestamp: 5n, route: { transport: 'ipv6', src: HA6, dst: '2001:db8:e::1' },
      binding: { id: bindingId, tunnel, homeAddresses: ['2001:db8:1::100'], prefixes: [] }, refreshRequested: false });
    const reread = () => {
      const r = BindingJournal.open(path);
      r.journal.close();
      return r.entries;
    };
    journal.record('mn1@example.net', entry(1), () => [entry(1)]);
    journal.record('mn1@example.net', entry(2), () => [entry(2)]);
    expect(reread()).toEqual([entry(2)]);
    journal.record('mn1@example.net', undefined, () => []);
    expect(reread()).toEqual([]);
    journal.close();
  });
});
