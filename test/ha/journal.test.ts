/**
 * The binding cache's journal and a home agent rebuilt from it: the same
 * entries (sequence numbers, timestamps, lifetimes, leases), the data plane
 * reconciled to them; the file's slots rewritten in place, damage survived.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Binding } from '../../control/dataplane/dataplane.js';
import { formatAddr } from '../../control/dataplane/layout.js';
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

/**
 * The file's layout, spelt out (journal.ts's Geometry and TAIL), for copies
 * of 1024 bytes: blocks of 64 slots, their tails (48 bytes, two a slot: the
 * copy's write number, its text's length, the binary tail) then their texts.
 */
const COPY = 1024;
const FILE = 64 * 2 * (48 + COPY); // one block: binding ids up to 63
const HEADER = 'mobility-anchor binding cache v3: blocks of tails, then text copies of 1024 bytes\n';
const tailOf = (slot: number, copy: number) => (slot * 2 + copy) * 48; // (in the first block)
const textOf = (slot: number, copy: number) => 64 * 2 * 48 + (slot * 2 + copy) * COPY;
/** A slot's copy as the file holds it: its write number, length, binary tail, text and what follows the text. */
const copyIn = (file: Buffer, slot: number, copy: number) => {
  const [at, text, length] = [tailOf(slot, copy), textOf(slot, copy), file.readUInt16LE(tailOf(slot, copy) + 4)];
  return { copy, number: file.readInt32LE(at), length, tail: tailAt(file, at), text: file.toString('utf8', text, text + length), rest: file.subarray(text + length, text + COPY) };
};
/** A copy's binary tail. */
const tailAt = (file: Buffer, at: number) => ({
  careOfFamily: file[at + 6], refreshRequested: file[at + 7], sequence: file.readUInt16LE(at + 8), expiresMs: file.readDoubleLE(at + 16),
  lastTimestamp: file.readBigUInt64LE(at + 24), careOf: file[at + 6] ? formatAddr(file, file[at + 6] as 4 | 6, at + 32) : undefined,
});
/** An entry's whole JSON record, { nai, entry }, as the formats before this one wrote it (the timestamp a decimal string). */
const wholeJson = (e: BindingCacheEntry) => JSON.stringify({ nai: e.nai, entry: e }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

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
  /** A slot's newer copy. */
  const newest = (id: number) => {
    const file = readFileSync(path);
    return [copyIn(file, id, 0), copyIn(file, id, 1)].sort((x, y) => y.number - x.number)[0]!;
  };

  it('rewrites a node\'s slot in place: the file does not grow with the BUs', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(1, 1, 1_000_000, dynamic));
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    expect(statSync(path).size).toBe(FILE); // the header, then binding ids 1 and 2 (and room for more)
    for (let seq = 2; seq <= 3000; seq++) j.ha.handleBindingUpdate(bu(0, seq, 1_000_000 + seq));
    expect(statSync(path).size).toBe(FILE);
    expect(readFileSync(path, 'latin1').startsWith(HEADER)).toBe(true);
    const { text, number, tail } = newest(1);
    expect(number).toBe(3000); // every write a copy: the two took turns
    expect(JSON.parse(text)).toMatchObject({ nai: 'mn1@example.net', entry: { homeAddress: '2001:db8:1::100', tunnel: { format: 'ip6', local: HA6 } } });
    expect(tail).toEqual({ careOfFamily: 6, refreshRequested: 0, sequence: 3000, expiresMs: 1_003_000 + 600_000, lastTimestamp: ntpTimestamp(1_003_000), careOf: '2001:db8:f::2' });
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
    file.fill(0, textOf(2, 0) + 20, textOf(2, 0) + 40); // the length stands, the text is damaged (its only copy)
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
    const older = newest(1).copy ^ 1; // where the next write would go
    file.writeUInt16LE(3, tailOf(1, older) + 8); // its tail's sequence number there, its text half there, its number not yet
    file.write('{"nai":"mn1@example.net","entry":{"nai":"mn1', textOf(1, older));
    writeFileSync(path, file);
    expect(BindingJournal.open(path)).toMatchObject({ entries: [{ nai: 'mn1@example.net', sequence: 2 }], problems: [] });
  });

  it('opens a file cut short (a copied or truncated journal): what it holds is read, the rest of the slots made again', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    j.journal.close();
    writeFileSync(path, readFileSync(path).subarray(0, textOf(2, 0) + 100)); // binding id 1 whole, then a piece of id 2's text
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
    file.fill(0x7b, textOf(1, newest(1).copy), textOf(1, newest(1).copy) + 14);
    writeFileSync(path, file);
    const { entries, problems } = BindingJournal.open(path);
    expect(entries.map((e) => e.sequence)).toEqual([1]);
    expect(problems).toEqual([expect.stringMatching(/slot 1: newer copy: .*: skipped/), expect.stringMatching(/slot 1: its older copy taken instead/)]);
  });

  it('takes the newer entry of a node found in two slots (a move between binding ids, cut short)', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    const { copy, text } = newest(1);
    const tail = readFileSync(path).subarray(tailOf(1, copy), tailOf(1, copy) + 48); // its copy whole: tail and text
    j.ha.handleBindingUpdate(bu(0, 2, 1_000_010));
    j.journal.close();
    const file = readFileSync(path);
    tail.copy(file, tailOf(5, 0));
    file.write(text.replace('"bindingId":1', '"bindingId":5'), textOf(5, 0));
    writeFileSync(path, file);
    expect(BindingJournal.open(path).entries.map((e) => [e.bindingId, e.sequence])).toEqual([[1, 2]]);
  });

  it('doubles its slots when an entry outgrows them', () => {
    const j = journaled();
    j.ha.handleBindingUpdate(bu(0, 1, 1_000_000));
    const entry = j.ha.binding('mn1@example.net')!;
    const prefixes = Array.from({ length: 28 }, (_, i) => `2001:db8:${(0x1000 + i).toString(16)}:ffff::/64`);
    j.journal.record(entry.nai, { ...entry, binding: { ...entry.binding, prefixes } }, () => j.ha.entries());
    expect(readFileSync(path, 'latin1').startsWith('mobility-anchor binding cache v3: blocks of tails, then text copies of 2048 bytes\n')).toBe(true);
    expect(statSync(path).size).toBe(64 * 2 * (48 + 2048));
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
    expect(file.toString('latin1', 0, 82)).toBe('mobility-anchor binding cache v3: blocks of tails, then text copies of 4096 bytes\n');
    expect(recordBytesBound(nai, prefixes) - file.readUInt16LE(tailOf(3, 0) + 4)).toBeGreaterThanOrEqual(5); // binding id 3 here, up to 131072
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
    const text = wholeJson(entry);
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
    const entry = (home: string, sequence: number): BindingCacheEntry => { // (the care-of address is the tail's: the home address is text)
      const tunnel = { format: 'ip6' as const, local: HA6, remote: '2001:db8:e::1' };
      return { nai: 'mn1@example.net', bindingId: 1, homeAddress: home, careOf: '2001:db8:e::1', natDetected: false, tunnel, sequence, lifetime: 600, expiresMs: 1_000_000,
        lastTimestamp: 5n, route: { transport: 'ipv6', src: HA6, dst: '2001:db8:e::1' }, binding: { id: 1, tunnel, homeAddresses: [home], prefixes: [] }, refreshRequested: false };
    };
    const long = '2001:db8:1:eeee:eeee:eeee:eeee:eeee';
    const copies = () => [0, 1].map((c) => copyIn(readFileSync(path), 1, c));
    journal.record('mn1@example.net', entry(long, 1), () => []);
    journal.record('mn1@example.net', entry(long, 2), () => []);
    const before = copies().map((c) => c.length);
    journal.record('mn1@example.net', entry('2001:db8:1::100', 3), () => []); // each copy in turn gets a shorter record
    journal.record('mn1@example.net', entry('2001:db8:1::100', 4), () => []);
    for (const [i, c] of copies().entries()) {
      expect(c.length).toBeLessThan(before[i]!);
      expect(c.text).not.toContain('eeee');
      expect(c.rest.every((b) => b === 0)).toBe(true);
    }
    journal.close();
  });

  it('writes a base into a copy only when the copy does not hold it: both copies read as the last two entries after every write', () => {
    const { journal } = BindingJournal.open(path);
    const copies = () => [0, 1].map((c) => copyIn(readFileSync(path), 1, c)).filter((c) => c.number !== 0) // (the second copy is not written until the second write)
      .map((c) => ({ entry: { ...c.tail, ...(JSON.parse(c.text) as { entry: { lifetime: number } }).entry } }));
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

  describe('the binary tail', () => {
    const tunnel = { format: 'ip6' as const, local: HA6, remote: '2001:db8:e::1' };
    const route = { transport: 'ipv6' as const, src: HA6, dst: '2001:db8:e::1', routingHeader2: '2001:db8:1::100' };
    const first: BindingCacheEntry = { nai: 'mn1@example.net', bindingId: 1, homeAddress: '2001:db8:1::100', careOf: '2001:db8:e::1', natDetected: false, tunnel,
      sequence: 1, lifetime: 600, expiresMs: 1_000_000, lastTimestamp: 5n, route, binding: { id: 1, tunnel, homeAddresses: ['2001:db8:1::100'], prefixes: [] }, refreshRequested: false };
    /** A move as the prediction makes it: new tunnel, route and binding objects, the same but for the care-of address. */
    const moveTo = (e: BindingCacheEntry, careOf: string, sequence: number): BindingCacheEntry => {
      const t = { ...e.tunnel, remote: careOf };
      return { ...e, careOf, tunnel: t, route: { ...e.route, dst: careOf }, binding: { ...e.binding, tunnel: t }, sequence, lastTimestamp: e.lastTimestamp + 1n };
    };
    const copy = (c: number) => copyIn(readFileSync(path), 1, c); // slot 1's
    const reread = () => {
      const r = BindingJournal.open(path);
      r.journal.close();
      return r;
    };
    /** e journalled, then again with the next sequence number; the newer copy's tail (the second's) damaged by damage, the file read back. */
    const damagedNewer = (e: BindingCacheEntry, damage: (file: Buffer, tail: number) => void) => {
      const { journal } = BindingJournal.open(path);
      journal.record(e.nai, e, () => [e]);
      const second = { ...e, sequence: e.sequence + 1 };
      journal.record(second.nai, second, () => [second]);
      journal.close();
      const file = readFileSync(path);
      damage(file, tailOf(1, 1));
      writeFileSync(path, file);
      return reread();
    };

    it('a registration writes its text into the copy never written too (its number still 0): the next BU writes a tail only', () => {
      const { journal } = BindingJournal.open(path);
      journal.record(first.nai, first, () => [first]);
      const [a, b] = [copy(0), copy(1)];
      expect([a.number, b.number]).toEqual([1, 0]);
      expect(b.length).toBe(a.length);
      expect(b.text).toBe(a.text);
      expect(reread().entries).toEqual([first]);
      const marked = b.text.replace('"nai":"mn1@example.net"', '"nai":"MN1@example.net"');
      const fd = openSync(path, 'r+'); // (the journal's mapping sees it)
      writeSync(fd, marked, textOf(1, 1), 'latin1');
      closeSync(fd);
      const moved = moveTo(first, '2001:db8:e:77::1', 2);
      journal.record(moved.nai, moved, () => [moved]);
      const after = copy(1);
      expect(after.number).toBe(2);
      expect(after.text).toBe(marked); // no text written: the mark stays
      const unmark = openSync(path, 'r+');
      writeSync(unmark, b.text, textOf(1, 1), 'latin1');
      closeSync(unmark);
      expect(after.tail).toEqual({ careOfFamily: 6, refreshRequested: 0, sequence: 2, expiresMs: 1_000_000, lastTimestamp: 6n, careOf: '2001:db8:e:77::1' });
      expect(reread().entries).toEqual([moved]);
      journal.close();
    });

    it('a move of a care-of address that is the tunnel\'s end and the BAs\' destination writes no text; one through a NAT keeps it in the JSON', () => {
      const { journal } = BindingJournal.open(path);
      let e = first;
      journal.record(e.nai, e, () => [e]);
      const texts = [copy(0).text, copy(1).text];
      for (const [i, careOf] of ['2001:db8:e::2', '2001:db8:e:ffff:ffff:ffff:ffff:ffff', '2001:db8:e::1'].entries()) {
        e = moveTo(e, careOf, i + 2);
        const mark = (text: string) => { // (the journal's mapping sees it)
          const fd = openSync(path, 'r+');
          for (const c of [0, 1]) writeSync(fd, text, textOf(1, c) + texts[0]!.indexOf('"tunnel"'), 'latin1');
          closeSync(fd);
        };
        mark('X');
        journal.record(e.nai, e, () => [e]);
        expect([copy(0).text, copy(1).text].map((t) => t.includes(',Xtunnel"'))).toEqual([true, true]); // no text written: the marks stay
        mark('"');
        const newest = [copy(0), copy(1)].sort((x, y) => y.number - x.number)[0]!;
        expect(newest.tail).toMatchObject({ careOfFamily: careOf.includes(':') ? 6 : 4, careOf, sequence: i + 2 });
        expect(reread().entries).toEqual([e]);
      }
      const natTunnel = { format: 'udp4' as const, local: '192.0.2.1', remote: '198.51.100.9', localPort: 4191, remotePort: 61000 };
      const natted: BindingCacheEntry = { ...e, careOf: '10.0.0.9', natDetected: true, tunnel: natTunnel, sequence: 9, binding: { ...e.binding, tunnel: natTunnel },
        route: { transport: 'udp4', src: '192.0.2.1', dst: '198.51.100.9', srcPort: 4191, dstPort: 61000, ipv6Src: HA6, ipv6Dst: '2001:db8:1::100' } };
      journal.record(natted.nai, natted, () => [natted]);
      const newest = [copy(0), copy(1)].sort((x, y) => y.number - x.number)[0]!;
      expect(newest.tail).toMatchObject({ careOfFamily: 0, careOf: undefined, sequence: 9 });
      expect(newest.text).toContain('"careOf":"10.0.0.9","tunnel":{"format":"udp4","local":"192.0.2.1","remote":"198.51.100.9"');
      expect(reread().entries).toEqual([natted]);
      // an IPv4 care-of address with no NAT between (an ip4 tunnel): the tail's too, and a move writes no text
      const ip4Tunnel = { format: 'ip4' as const, local: '192.0.2.1', remote: '10.9.8.7' };
      let v4: BindingCacheEntry = { ...natted, careOf: '10.9.8.7', natDetected: false, tunnel: ip4Tunnel, sequence: 10, binding: { ...e.binding, tunnel: ip4Tunnel },
        route: { transport: 'udp4', src: '192.0.2.1', dst: '10.9.8.7', srcPort: 4191, dstPort: 4191, ipv6Src: HA6, ipv6Dst: '2001:db8:1::100' } };
      journal.record(v4.nai, v4, () => [v4]);
      journal.record(v4.nai, v4, () => [v4]); // (both copies hold its text)
      const v4Texts = [copy(0).text, copy(1).text];
      v4 = moveTo(v4, '10.9.8.8', 11);
      journal.record(v4.nai, v4, () => [v4]);
      expect([copy(0).text, copy(1).text]).toEqual(v4Texts);
      expect([copy(0), copy(1)].sort((x, y) => y.number - x.number)[0]!.tail).toMatchObject({ careOfFamily: 4, careOf: '10.9.8.8', sequence: 11 });
      expect(reread().entries).toEqual([v4]);
      journal.close();
    });

    it.each([
      ['care-of family', 6, 7, "its tail's care-of family is 7, neither 0, 4 nor 6"],
      ['refresh byte', 7, 2, "its tail's refreshRequested is 2, neither 0 nor 1"],
      ['expiry', 16, 0xff, 'expiresMs: must be an integer'], // (a NaN)
    ])('skips a copy whose tail no write makes (its %s), naming it, and takes the older copy', (_what, offset, value, problem) => {
      const { entries, problems } = damagedNewer(first, (file, tail) => {
        if (offset === 16) file.fill(value, tail + offset, tail + offset + 8);
        else file[tail + offset] = value;
      });
      expect(entries).toEqual([first]);
      expect(problems).toEqual([expect.stringContaining(`slot 1: newer copy: ${problem}`), expect.stringMatching(/slot 1: its older copy taken instead$/)]);
    });

    it.each([
      ['an ip6 tunnel\'s care-of family 6 turned 4 (one bit)', first, 6, 4],
      ['an ip4 tunnel\'s care-of family 4 turned 6 (one bit)', { ...first, careOf: '192.0.2.7', tunnel: { format: 'ip4' as const, local: '192.0.2.1', remote: '192.0.2.7' },
        route: { transport: 'udp4' as const, src: '192.0.2.1', dst: '192.0.2.7', srcPort: 4191, dstPort: 4191, ipv6Src: HA6, ipv6Dst: '2001:db8:1::100' } }, 4, 6],
    ])('skips a copy whose tail names a care-of family its tunnel cannot have (%s): the data plane would refuse the binding at restore', (_what, base, was, damaged) => {
      const e: BindingCacheEntry = { ...base, binding: { ...base.binding, tunnel: base.tunnel } };
      const { entries, problems } = damagedNewer(e, (file, tail) => {
        expect(file[tail + 6]).toBe(was);
        file[tail + 6] = damaged;
      });
      expect(entries).toEqual([e]); // not an entry whose tunnel's remote end is of the other family (DataPlane.install() throws on it: the daemon would not start)
      expect(problems).toEqual([expect.stringMatching(/slot 1: newer copy: .*care-of family.*: skipped/), expect.stringMatching(/slot 1: its older copy taken instead$/)]);
    });

    it('reads a journal of the format before (v2: the tail in the JSON), and rewrites it in this one', () => {
      const v2 = Buffer.alloc(4 * COPY); // its header slot, then binding id 1's: two copies, each its number, length and JSON
      v2.write('mobility-anchor binding cache v2: slots of two copies of 1024 bytes\n');
      const refreshed = { ...first, sequence: 7, lastTimestamp: 0xfedcba9876543210n, refreshRequested: true };
      v2.writeInt32LE(1, 2 * COPY);
      v2.writeUInt16LE(v2.write(wholeJson(refreshed), 2 * COPY + 6), 2 * COPY + 4);
      writeFileSync(path, v2);
      const { journal, entries, problems } = BindingJournal.open(path);
      journal.close();
      expect({ entries, problems }).toEqual({ entries: [refreshed], problems: [] });
      expect(readFileSync(path, 'latin1').startsWith(HEADER)).toBe(true);
      expect(copy(0).tail).toEqual({ careOfFamily: 6, refreshRequested: 1, sequence: 7, expiresMs: 1_000_000, lastTimestamp: 0xfedcba9876543210n, careOf: '2001:db8:e::1' });
      expect(reread().entries).toEqual([refreshed]);
    });
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
