/**
 * The driver's binding table against the real maps: install, replace and
 * remove write exactly the entries a binding needs; conflicts and bad input
 * are refused with the field named; a failed write leaves nothing behind;
 * a concurrent reader never sees half a binding.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BindingError, DataPlane, PIN_ROOT, type Binding } from '../../control/dataplane/dataplane.js';
import { libbpf } from '../../control/dataplane/libbpf.js';
import { closeFd } from '../../control/sys/libc.js';
import { decodeTunnel, encodeHomeKey, encodeTunnel, layouts, type TunnelValue } from '../../control/dataplane/layout.js';
import { basename, join } from 'node:path';

const INSTANCE = 'test-bindings';
let dp: DataPlane;
beforeAll(() => { dp = DataPlane.open({ instance: INSTANCE, role: 'anchor' }); });
afterAll(() => dp?.destroy());

const udp: Binding = {
  id: 10,
  tunnel: { format: 'udp4', local: '198.51.100.1', remote: '203.0.113.7', localPort: 4191, remotePort: 40001 },
  homeAddresses: ['2001:db8:1::10', '10.1.0.10'],
  prefixes: ['2001:db8:100::/48', '10.200.0.0/16'],
};

/** Every map entry a data plane holds, as "map key -> binding id". */
function entries(plane: DataPlane = dp): string[] {
  const out: string[] = [];
  for (const [map, keySize] of [['home4', 4], ['home6', 16], ['prefix4', 8], ['prefix6', 20]] as const) {
    const fd = libbpf.getPinned(join(plane.pinDir, map));
    for (const key of libbpf.keys(fd, keySize)) {
      const value = libbpf.lookup(fd, key, 4)!;
      out.push(`${map} ${key.toString('hex')} -> ${value.readUInt32LE(0)}`);
    }
    closeFd(fd);
  }
  return out.sort();
}

/** The `tunnels` slots of these binding ids, as the kernel reads them (struct tunnel_slot). */
function slots(ids: Iterable<number>, plane: DataPlane = dp): Buffer[] {
  const fd = libbpf.getPinned(join(plane.pinDir, 'tunnels'));
  const key = Buffer.alloc(4), out: Buffer[] = [];
  for (const id of ids) {
    key.writeUInt32LE(id);
    out.push(libbpf.lookup(fd, key, layouts.tunnel_slot.size)!);
  }
  closeFd(fd);
  return out;
}
const slot = (id: number, plane: DataPlane = dp) => slots([id], plane)[0]!;
const seqOf = (id: number, plane: DataPlane = dp) => slot(id, plane).readUInt32LE(layouts.tunnel_slot.fields.seq!.offset);
/** A slot's tunnel in use: copy[seq & 1]. */
const inUse = (s: Buffer) => s.subarray(8 + (s.readUInt32LE(0) & 1) * layouts.tunnel.size).subarray(0, layouts.tunnel.size);

/** The binding ids whose `tunnels` slot holds a tunnel (an empty one: format 0). */
function tunnelIds(plane: DataPlane = dp): number[] {
  const all = slots(Array.from({ length: 131072 }, (_, id) => id), plane);
  return all.flatMap((s, id) => (inUse(s)[layouts.tunnel.fields.format!.offset] ? [id] : []));
}

/** Fills a hash map to its last free slot with keys of foreign addresses (key bytes from 0x0b000000, big-endian, in the first four). */
function fill(plane: DataPlane, map: string, keySize: number, valueSize: number, max: number): number {
  const fd = libbpf.getPinned(join(plane.pinDir, map));
  const free = max - [...libbpf.keys(fd, keySize)].length;
  const keys = Buffer.alloc(keySize * free);
  for (let i = 0; i < free; i++) keys.writeUInt32BE(0x0b000000 + i, i * keySize);
  libbpf.updateBatch(fd, keys, Buffer.alloc(valueSize * free), free);
  return fd;
}

describe('install, replace, remove', () => {
  it('writes one entry per home address and prefix, each naming the binding, and its tunnel once', () => {
    dp.install(udp);
    expect(entries()).toEqual([
      'home4 0a01000a -> 10',
      'home6 20010db8000100000000000000000010 -> 10',
      'prefix4 100000000ac80000 -> 10',
      'prefix6 3000000020010db8010000000000000000000000 -> 10',
    ]);
    expect(tunnelIds()).toEqual([10]);
    expect(dp.lookupEntry('10.1.0.10')).toMatchObject({ bindingId: 10, format: 'udp4', local: '198.51.100.1', remote: '203.0.113.7', localPort: 4191, remotePort: 40001, nexthop: null });
  });

  it('replaces in place: changed tunnel everywhere, dropped addresses gone, counters kept', () => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(udp.id);
    dp.install({ ...udp, tunnel: { format: 'ip6', local: '2001:db8:f::1', remote: '2001:db8:f::99' }, homeAddresses: ['2001:db8:1::10'], prefixes: ['2001:db8:100::/48'] });
    expect(entries()).toEqual([
      'home6 20010db8000100000000000000000010 -> 10',
      'prefix6 3000000020010db8010000000000000000000000 -> 10',
    ]);
    expect(dp.lookupEntry('2001:db8:1::10')).toMatchObject({ format: 'ip6', remote: '2001:db8:f::99' });
    expect(dp.lookupEntry('10.1.0.10')).toBeNull();
  });

  it('removes every entry of a binding, and its tunnel', () => {
    expect(dp.remove(udp.id)).toBe(true);
    expect(entries()).toEqual([]);
    expect(tunnelIds()).toEqual([]);
    expect(dp.remove(udp.id)).toBe(false);
  });

  it('masks host bits so a prefix has one key', () => {
    dp.install({ ...udp, id: 11, homeAddresses: [], prefixes: ['10.200.7.9/16'] });
    expect(entries()).toEqual(['prefix4 100000000ac80000 -> 11']);
    dp.remove(11);
  });

  it('installs many bindings with batched writes', () => {
    const many: Binding[] = Array.from({ length: 5000 }, (_, i) => ({
      id: 1000 + i,
      tunnel: { format: 'ip4', local: '198.51.100.1', remote: `203.0.${i >> 8}.${i & 255}` },
      homeAddresses: [`10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, `2001:db8:2::${i.toString(16)}`],
      prefixes: [],
    }));
    dp.installMany(many);
    expect(entries()).toHaveLength(10000);
    expect(tunnelIds()).toHaveLength(5000);
    expect(dp.lookupEntry('2001:db8:2::1387')).toMatchObject({ bindingId: 5999, remote: '203.0.19.135' });
    for (const b of many) dp.remove(b.id);
    expect(entries()).toEqual([]);
    expect(tunnelIds()).toEqual([]);
  });
});

describe('refusals', () => {
  it.each([
    { field: 'id', bad: { ...udp, id: -1 } },
    { field: 'tunnel.local', bad: { ...udp, tunnel: { ...udp.tunnel, local: '2001:db8::1' } } },
    { field: 'tunnel.remote', bad: { ...udp, tunnel: { ...udp.tunnel, remote: 'nowhere' } } },
    { field: 'tunnel.remotePort', bad: { ...udp, tunnel: { ...udp.tunnel, remotePort: 0 } } },
    { field: 'homeAddresses', bad: { ...udp, homeAddresses: ['10.1.0.300'] } },
    { field: 'prefixes', bad: { ...udp, prefixes: ['10.0.0.0/33'] } },
    { field: 'homeAddresses', bad: { ...udp, homeAddresses: [], prefixes: [] } },
  ] as { field: string; bad: Binding }[])('a bad $field is refused, naming it', ({ bad, field }) => {
    expect(() => dp.install(bad)).toThrow(BindingError);
    expect(() => dp.install(bad)).toThrow(new RegExp(`binding -?\\d+: ${field.replace('.', '\\.')}:`));
    expect(entries()).toEqual([]);
  });

  it('a home address belongs to one binding only', () => {
    dp.install(udp);
    expect(() => dp.install({ ...udp, id: 12, prefixes: [], homeAddresses: ['10.1.0.10'] })).toThrow(/belongs to binding 10/);
    expect(entries().filter((e) => e.endsWith('-> 12'))).toEqual([]);
    dp.remove(udp.id);
  });

  it('a batch is checked whole before anything is written', () => {
    dp.install(udp);
    const b = (id: number, home: string): Binding => ({ id, tunnel: { format: 'ip4', local: '198.51.100.1', remote: '203.0.113.50' }, homeAddresses: [home], prefixes: [] });
    expect(() => dp.installMany([b(30, '10.3.0.1'), b(31, '10.1.0.10')])).toThrow(/binding 31: homeAddresses: .* belongs to binding 10/);
    expect(() => dp.installMany([b(30, '10.3.0.1'), b(31, '10.3.0.1')])).toThrow(/binding 31: homeAddresses: .* belongs to binding 30/);
    expect(() => dp.installMany([b(30, '10.3.0.1'), b(30, '10.3.0.2')])).toThrow(/binding 30: id: appears twice/);
    expect(entries().filter((e) => !e.endsWith('-> 10'))).toEqual([]);
    expect(dp.binding(30)).toBeUndefined();
    dp.remove(udp.id);
  });

  it('a binding put in another\'s place under its id (a journal that disagreed with the maps): the addresses it drops never meet its tunnel, nor its own the other\'s', () => {
    const ip4 = (remote: string, home: string[]): Binding => ({ id: 80, tunnel: { format: 'ip4', local: '198.51.100.1', remote }, homeAddresses: home, prefixes: [] });
    dp.install(ip4('203.0.113.80', ['10.8.0.1'])); // one node's
    const home4 = libbpf.getPinned(join(dp.pinDir, 'home4'));
    const met: string[] = [];
    const see = () => { // what each address would be tunnelled into, as the kernel reads the maps now
      for (const home of ['10.8.0.1', '10.8.0.2']) {
        const id = libbpf.lookup(home4, encodeHomeKey(home), 4)?.readUInt32LE(0);
        const tunnel = id === undefined ? undefined : inUse(slot(id));
        if (tunnel?.[layouts.tunnel.fields.format!.offset]) met.push(`${home} ${decodeTunnel(tunnel).remote}`);
      }
    };
    const realUpdate = libbpf.update, realDelete = libbpf.delete;
    const spies = [
      vi.spyOn(libbpf, 'update').mockImplementation((...args) => { realUpdate(...args); see(); }),
      vi.spyOn(libbpf, 'delete').mockImplementation((...args) => { const r = realDelete(...args); see(); return r; }),
    ];
    try {
      see();
      dp.install(ip4('203.0.113.81', ['10.8.0.2'])); // another's
    } finally {
      for (const spy of spies) spy.mockRestore();
      closeFd(home4);
    }
    expect([...new Set(met)].sort()).toEqual(['10.8.0.1 203.0.113.80', '10.8.0.2 203.0.113.81']);
    expect(entries().filter((e) => e.endsWith('-> 80'))).toEqual(['home4 0a080002 -> 80']);
    dp.remove(80);
  });

  it('a write that fails midway, after the addresses a binding drops went, puts them back', () => {
    const small = DataPlane.open({ instance: `${INSTANCE}-small-dropped`, role: 'anchor' });
    try {
      const before: Binding = { ...udp, homeAddresses: ['10.1.0.10'], prefixes: ['10.200.0.0/16'] };
      small.install(before);
      // home4 filled to its last free slot: the one it drops frees one more, and three new ones do not fit
      const fd = fill(small, 'home4', 4, 4, 262144 - 1);
      expect(() => small.install({ ...udp, tunnel: { ...udp.tunnel, remote: '203.0.113.99' }, homeAddresses: ['10.1.0.11', '10.1.0.12', '10.1.0.13'], prefixes: [] })).toThrow(/bpf_map_update_elem/);
      const named = () => ['10.1.0.10', '10.1.0.11', '10.1.0.12', '10.1.0.13'].map((a) => libbpf.lookup(fd, encodeHomeKey(a), 4)?.readUInt32LE(0));
      expect(named()).toEqual([udp.id, undefined, undefined, undefined]);
      expect(small.lookupEntry('10.1.0.10')).toMatchObject({ bindingId: udp.id, remote: '203.0.113.7' });
      expect(small.binding(udp.id)).toEqual(before);
      small.remove(udp.id); // and the table still owns what the maps hold
      expect(named()).toEqual([undefined, undefined, undefined, undefined]);
      closeFd(fd);
    } finally {
      small.destroy();
    }
  });

  it('a write that fails midway undoes what it wrote and keeps the previous binding', () => {
    const small = DataPlane.open({ instance: `${INSTANCE}-small`, role: 'anchor' });
    try {
      // home4 filled to its last free slot with foreign entries, so a binding with two IPv4 addresses cannot fit
      const fd = fill(small, 'home4', 4, 4, 262144 - 1);
      expect(() => small.install({ ...udp, homeAddresses: ['10.1.0.10', '10.1.0.11'], prefixes: [] })).toThrow(/bpf_map_update_elem/);
      expect(libbpf.lookup(fd, encodeHomeKey('10.1.0.10'), 4)).toBeNull();
      expect(tunnelIds(small)).toEqual([]); // written first, then undone
      expect(small.binding(udp.id)).toBeUndefined();
      closeFd(fd);
    } finally {
      small.destroy();
    }
  });
});

describe('moves', () => {
  const remoteOf = (plane: DataPlane, home: string) => plane.lookupEntry(home)?.remote;

  it('a move is one write to the binding\'s slot (the copy not in use, then seq one up): a mobile router\'s home address and prefixes switch together', () => {
    const router: Binding = { ...udp, id: 43, homeAddresses: ['10.4.1.1'], prefixes: ['10.44.0.0/16', '2001:db8:44::/48'] };
    dp.install(router);
    const before = entries().filter((e) => e.endsWith('-> 43'));
    const seq = seqOf(43);
    const was = Buffer.from(inUse(slot(43)));
    router.tunnel = { ...udp.tunnel, remote: '203.0.113.44' }; // changed in place, as a predicted move does
    expect(dp.move(router)).toBe(true);
    const now = slot(43);
    expect(now.readUInt32LE(0)).toBe(seq + 1);
    expect(now.subarray(8 + (seq & 1) * layouts.tunnel.size).subarray(0, layouts.tunnel.size)).toEqual(was); // the copy in use before: untouched
    expect(entries().filter((e) => e.endsWith('-> 43'))).toEqual(before); // no entry rewritten
    expect(dp.lookupEntry('10.4.1.1')).toMatchObject({ bindingId: 43, remote: '203.0.113.44', remotePort: 40001 });
    dp.install({ ...router, tunnel: { ...router.tunnel, remote: '203.0.113.45' } }); // install() of a move: the same one write
    expect([seqOf(43), remoteOf(dp, '10.4.1.1')]).toEqual([seq + 2, '203.0.113.45']);
    dp.remove(router.id);
    expect([seqOf(43), inUse(slot(43)).equals(Buffer.alloc(layouts.tunnel.size))]).toEqual([seq + 3, true]); // emptied
  });

  it('move() declines a binding object the data plane does not hold: install() compares then', () => {
    const a: Binding = { id: 44, tunnel: { format: 'ip4', local: '198.51.100.1', remote: '203.0.113.1' }, homeAddresses: ['10.4.2.1'], prefixes: [] };
    expect(dp.move(a)).toBe(false); // not installed
    dp.install(a);
    expect(dp.move({ ...a, tunnel: { ...a.tunnel, remote: '203.0.113.2' } })).toBe(false); // another object
    expect(remoteOf(dp, '10.4.2.1')).toBe('203.0.113.1');
    dp.remove(a.id);
  });

  it('after close() a move throws, as every other write does (the slots are no longer mapped: touched, they would crash the process)', () => {
    const closed = DataPlane.open({ instance: `${INSTANCE}-closed`, role: 'anchor' });
    const pinDir = closed.pinDir;
    try {
      const a: Binding = { id: 45, tunnel: { format: 'ip4', local: '198.51.100.1', remote: '203.0.113.1' }, homeAddresses: ['10.4.2.5'], prefixes: [] };
      closed.install(a);
      closed.close();
      a.tunnel.remote = '203.0.113.2'; // a move that comes in late
      expect(() => closed.move(a)).toThrow('map tunnels not open');
      expect(() => closed.install({ ...a, tunnel: { ...a.tunnel } })).toThrow('map tunnels not open');
      expect(() => closed.flushNexthops()).toThrow('map tunnels not open');
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });
});

it('a reader never sees half a binding while another process replaces it', async () => {
  // A second process flips binding 20 between two tunnels as fast as it can;
  // every lookup here must return one whole tunnel or the other.
  const a = { format: 'udp4' as const, local: '198.51.100.1', remote: '203.0.113.1', localPort: 4191, remotePort: 1111 };
  const b = { format: 'udp4' as const, local: '198.51.100.2', remote: '203.0.113.2', localPort: 4192, remotePort: 2222 };
  dp.install({ id: 20, tunnel: a, homeAddresses: ['10.9.9.9'], prefixes: [] });
  const flipper = spawn(process.execPath, ['--import', 'tsx', '-e', `
    import('${new URL('../../control/dataplane/dataplane.ts', import.meta.url).pathname}').then(({ DataPlane }) => {
      const dp = DataPlane.open({ instance: '${INSTANCE}', role: 'anchor' });
      const tunnels = [${JSON.stringify(a)}, ${JSON.stringify(b)}];
      const end = Date.now() + 1500;
      for (let i = 0; Date.now() < end; i++) dp.install({ id: 20, tunnel: tunnels[i % 2], homeAddresses: ['10.9.9.9'], prefixes: [] });
      dp.close();
      console.log('done');
    });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  flipper.stdout.on('data', (d) => (output += d));
  const seen = new Set<string>();
  let reads = 0;
  for (const deadline = Date.now() + 10_000; !output && Date.now() < deadline; ) {
    const t = dp.lookupEntry('10.9.9.9')!;
    seen.add(`${t.local} ${t.remote} ${t.localPort} ${t.remotePort}`);
    if (++reads % 1000 === 0) await new Promise((r) => setImmediate(r)); // let the child's output in
  }
  expect(output).toContain('done');
  expect([...seen].sort()).toEqual(['198.51.100.1 203.0.113.1 4191 1111', '198.51.100.2 203.0.113.2 4192 2222']);
  expect(reads).toBeGreaterThan(1000);
  dp.remove(20);
});

/** struct tunnel as the builds before the slots pinned it (no seq at its end): 64 bytes, this build's 68. */
const OLD_TUNNEL_SIZE = 64;
/** A tunnel as those builds held it: this build's struct tunnel without its seq. */
const oldTunnel = (t: TunnelValue): Buffer => encodeTunnel(t).subarray(0, OLD_TUNNEL_SIZE);

const bpftool = (...args: string[]) => JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' })) as unknown;
/** The map pinned at path, as bpftool shows it. */
const shownMap = (path: string) => bpftool('map', 'show', 'pinned', path) as { id: number; flags: number; bytes_value: number };
/** Puts a map of this shape where path was pinned, as an older build would have: `bpftool map create` arguments after the path. */
function pinInstead(path: string, ...shape: string[]): void {
  rmSync(path);
  execFileSync('bpftool', ['map', 'create', path, ...shape, 'name', basename(path)]);
}

describe('what an operator sees', () => {
  it('every map is pinned in the instance directory', () => {
    expect(readdirSync(dp.pinDir).sort()).toEqual(['binding_cache', 'binding_counters', 'config', 'dest_cache', 'drops', 'endpoint_cache', 'endpoint_ports', 'endpoints', 'events', 'home4', 'home6', 'home_links', 'icmp_budget', 'links', 'nexthops', 'prefix4', 'prefix6', 'signals', 'tunnels']);
  });

  it('bpftool shows drop counters and tunnels with their field names, and each address\'s binding id', () => {
    type Dump = { formatted: { key?: unknown; values?: { value: Record<string, number> }[]; value?: unknown } }[];
    const drops = bpftool('map', 'dump', 'pinned', join(dp.pinDir, 'drops')) as Dump;
    expect(Object.keys(drops[0]!.formatted.values![0]!.value)).toEqual(Object.keys(dp.drops()));
    dp.install(udp);
    const home4 = bpftool('map', 'dump', 'pinned', join(dp.pinDir, 'home4')) as Dump;
    expect(home4[0]!.formatted.value).toBe(10);
    const tunnel = bpftool('map', 'lookup', 'pinned', join(dp.pinDir, 'tunnels'), 'key', '10', '0', '0', '0') as { formatted: { key: number; value: { seq: number; copy: Record<string, unknown>[] } } };
    const { seq, copy } = tunnel.formatted.value;
    expect([tunnel.formatted.key, seq]).toEqual([10, seqOf(10)]);
    expect(copy[seq & 1]).toMatchObject({ binding_id: 10, format: 3, local_port: 0x5f10 /* 4191, big-endian */ });
    dp.remove(udp.id);
  });
});

describe('an instance pinned by another build', () => {
  it('is refused, naming the map and its shape, when a map that holds state has another shape', () => {
    const other = DataPlane.open({ instance: `${INSTANCE}-other`, role: 'anchor' });
    const pinDir = other.pinDir;
    other.close();
    try {
      pinInstead(join(pinDir, 'home6'), 'type', 'hash', 'key', '16', 'value', '60', 'entries', '262144');
      // and home4 as builds before `tunnels` pinned it, which alone would be converted
      pinInstead(join(pinDir, 'home4'), 'type', 'hash', 'key', '4', 'value', String(OLD_TUNNEL_SIZE), 'entries', '262144');
      const home4 = () => shownMap(join(pinDir, 'home4'));
      const before = home4();
      expect(() => DataPlane.open({ instance: `${INSTANCE}-other`, role: 'anchor' }))
        .toThrow(`${join(pinDir, 'home6')}: pinned by another build of the data plane: valueSize 60 (this build: 4)`);
      expect(home4()).toEqual(before); // refused as a whole: nothing pinned was replaced
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });
});

describe('a restart', () => {
  /** A slot as a control plane of this build writes it (seq 0: the first copy in use). */
  const slotOf = (t: TunnelValue | null, format?: number): Buffer => {
    const out = Buffer.alloc(layouts.tunnel_slot.size);
    if (t) encodeTunnel(t).copy(out, layouts.tunnel_slot.fields.copy!.offset);
    if (format !== undefined) out.writeUInt8(format, layouts.tunnel_slot.fields.copy!.offset + layouts.tunnel.fields.format!.offset);
    return out;
  };
  const ip4 = (id: number, remote: string): TunnelValue => ({ bindingId: id, format: 'ip4', local: '198.51.100.1', remote, localPort: 0, remotePort: 0, mtu: 0 });
  const put = (pinDir: string, map: string, key: Buffer, value: Buffer) => {
    const fd = libbpf.getPinned(join(pinDir, map));
    libbpf.update(fd, key, value);
    closeFd(fd);
  };
  const id = (n: number) => Buffer.from([n, 0, 0, 0]);

  it('removes entries naming no tunnel it can read, and tunnels no entry names; a stray entry naming a live binding becomes its address', () => {
    const instance = `${INSTANCE}-orphans`;
    const first = DataPlane.open({ instance, role: 'anchor' });
    const pinDir = first.pinDir;
    try {
      const b = (n: number, homes: string[], prefixes: string[] = []): Binding => ({ id: n, tunnel: { format: 'ip4', local: '198.51.100.1', remote: `203.0.113.${n}` }, homeAddresses: homes, prefixes });
      first.install(b(60, ['10.6.0.1']));
      first.install(b(61, ['2001:db8:61::1']));
      first.install(b(62, [], ['10.62.0.0/16']));
      first.close();
      put(pinDir, 'tunnels', id(60), slotOf(null)); // 60's tunnel gone: its entry names nothing
      put(pinDir, 'home6', encodeHomeKey('2001:db8:99::1'), id(99)); // names an id with no tunnel
      put(pinDir, 'tunnels', id(70), slotOf(ip4(70, '203.0.113.70'), 7)); // a tunnel this build cannot read (format 7) ...
      put(pinDir, 'home4', encodeHomeKey('10.7.0.1'), id(70)); // ... and its entry
      put(pinDir, 'tunnels', id(71), slotOf(ip4(71, '203.0.113.71'))); // a tunnel no entry names
      put(pinDir, 'home4', encodeHomeKey('10.6.1.61'), id(61)); // a stray entry naming a live binding

      const again = DataPlane.open({ instance, role: 'anchor' });
      try {
        expect(entries(again)).toEqual(['home4 0a06013d -> 61', 'home6 20010db8006100000000000000000001 -> 61', 'prefix4 100000000a3e0000 -> 62']);
        expect(tunnelIds(again)).toEqual([61, 62]);
        expect(again.bindingIds()).toEqual([61, 62]);
        expect(again.binding(61)).toEqual(b(61, ['10.6.1.61', '2001:db8:61::1']));
        again.install(b(60, ['10.6.0.1'])); // what was freed is free
        again.install(b(70, ['10.7.0.1']));
        expect(again.lookupEntry('10.7.0.1')).toMatchObject({ bindingId: 70, remote: '203.0.113.70' });
      } finally {
        again.close();
      }
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });

  it('bumps the caches\' generation after it removed the orphans: a cached "no binding" of an address whose entry named no tunnel, which a prefix covers, does not outlive them', () => {
    const instance = `${INSTANCE}-orphans-caches`;
    const first = DataPlane.open({ instance, role: 'anchor' });
    const pinDir = first.pinDir;
    try {
      first.install({ id: 70, tunnel: { format: 'ip4', local: '198.51.100.1', remote: '203.0.113.70' }, homeAddresses: [], prefixes: ['10.70.0.0/16'] });
      first.close();
      put(pinDir, 'home4', encodeHomeKey('10.70.0.5'), id(99)); // names no tunnel: the programs find no binding for 10.70.0.5
      const calls: string[] = [];
      const realUpdate = libbpf.update, realDelete = libbpf.delete;
      const spies = [
        vi.spyOn(libbpf, 'update').mockImplementation((fd, key, value, flags) => {
          if (value.length === layouts.anchor_config.size) calls.push('generation');
          return realUpdate(fd, key, value, flags);
        }),
        vi.spyOn(libbpf, 'delete').mockImplementation((fd, key) => {
          calls.push('delete');
          return realDelete(fd, key);
        }),
      ];
      let again: DataPlane;
      try {
        again = DataPlane.open({ instance, role: 'anchor' });
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
      try {
        expect(entries(again)).toEqual(['prefix4 100000000a460000 -> 70']); // the orphan gone: 10.70.0.5 is the prefix's
        expect(calls).toContain('delete');
        expect(calls.lastIndexOf('generation')).toBeGreaterThan(calls.lastIndexOf('delete'));
      } finally {
        again.close();
      }
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });
});

describe('an instance pinned by an older build', () => {
  it('keeps its bindings: address maps that held whole tunnels (home6 preallocated, too) are converted, each tunnel put in `tunnels` once', () => {
    const instance = `${INSTANCE}-upgrade`;
    const first = DataPlane.open({ instance, role: 'anchor' });
    const pinDir = first.pinDir;
    try {
      first.install(udp);
      const before = entries(first);
      first.close();
      // what builds before `tunnels` pinned: each address map valued with the whole tunnel (a learnt next hop in it), home6 preallocated (map_flags 0)
      const tunnel = oldTunnel({ bindingId: udp.id, format: 'udp4', local: '198.51.100.1', remote: '203.0.113.7', localPort: 4191, remotePort: 40001, mtu: 0 });
      tunnel.writeUInt8(1, layouts.tunnel.fields.nh_valid!.offset);
      tunnel.writeUInt32LE(7, layouts.tunnel.fields.nh_ifindex!.offset);
      const shapes: Record<string, string[]> = {
        home4: ['type', 'hash', 'key', '4', 'entries', '262144', 'flags', '1'],
        home6: ['type', 'hash', 'key', '16', 'entries', '262144'],
        prefix4: ['type', 'lpm_trie', 'key', '8', 'entries', '65536', 'flags', '1'],
        prefix6: ['type', 'lpm_trie', 'key', '20', 'entries', '65536', 'flags', '1'],
      };
      for (const [map, shape] of Object.entries(shapes)) {
        const current = libbpf.getPinned(join(pinDir, map));
        const keys = [...libbpf.keys(current, Number(shape[3]))];
        closeFd(current);
        pinInstead(join(pinDir, map), ...shape, 'value', String(OLD_TUNNEL_SIZE));
        const old = libbpf.getPinned(join(pinDir, map));
        for (const k of keys) libbpf.update(old, k, tunnel);
        closeFd(old);
      }
      rmSync(join(pinDir, 'tunnels'));
      rmSync(join(pinDir, 'nexthops'));
      expect(shownMap(join(pinDir, 'home6')).flags).toBe(0);

      const upgraded = DataPlane.open({ instance, role: 'anchor' });
      try {
        expect(upgraded.carriedOver).toEqual(['home4', 'home6', 'prefix4', 'prefix6', 'tunnels']);
        expect(upgraded.resumed).toBe(true);
        expect(shownMap(join(pinDir, 'home6')).flags).toBe(1); // BPF_F_NO_PREALLOC
        expect(entries(upgraded)).toEqual(before);
        expect(tunnelIds(upgraded)).toEqual([udp.id]);
        expect(upgraded.lookupEntry('2001:db8:1::10')).toMatchObject({ bindingId: 10, remote: '203.0.113.7', nexthop: null }); // learnt again on first use
        expect(inUse(slot(udp.id, upgraded)).readUInt8(layouts.tunnel.fields.nh_valid!.offset)).toBe(0); // the slot holds none
        expect(upgraded.binding(udp.id)).toEqual({ ...udp, homeAddresses: ['10.1.0.10', '2001:db8:1::10'], prefixes: ['10.200.0.0/16', '2001:db8:100::/48'] });
      } finally {
        upgraded.close();
      }
      const next = DataPlane.open({ instance, role: 'anchor' });
      expect(next.carriedOver).toEqual([]); // and the next start simply reuses them
      next.close();
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });

  it('keeps its bindings when `tunnels` was a hash of tunnels by binding id (the first build with ids in the address maps), an unreadable tunnel costing its entries', () => {
    const instance = `${INSTANCE}-upgrade-hash`;
    const first = DataPlane.open({ instance, role: 'anchor' });
    const pinDir = first.pinDir;
    try {
      first.install(udp);
      first.install({ id: 11, tunnel: { format: 'ip4', local: '198.51.100.1', remote: '203.0.113.11' }, homeAddresses: ['10.1.0.11'], prefixes: [] });
      first.close();
      // what that build pinned: the address maps as this one's, `tunnels` a hash of the tunnels then (no seq), no `nexthops`
      pinInstead(join(pinDir, 'tunnels'), 'type', 'hash', 'key', '4', 'value', String(OLD_TUNNEL_SIZE), 'entries', '131072', 'flags', '1');
      const fd = libbpf.getPinned(join(pinDir, 'tunnels'));
      const learnt = oldTunnel({ bindingId: udp.id, format: 'udp4', local: '198.51.100.1', remote: '203.0.113.7', localPort: 4191, remotePort: 40001, mtu: 0 });
      learnt.writeUInt8(1, layouts.tunnel.fields.nh_valid!.offset);
      libbpf.update(fd, Buffer.from([udp.id, 0, 0, 0]), learnt);
      const unreadable = oldTunnel({ bindingId: 11, format: 'ip4', local: '198.51.100.1', remote: '203.0.113.11', localPort: 0, remotePort: 0, mtu: 0 });
      unreadable.writeUInt8(7, layouts.tunnel.fields.format!.offset);
      libbpf.update(fd, Buffer.from([11, 0, 0, 0]), unreadable);
      closeFd(fd);
      rmSync(join(pinDir, 'nexthops'));

      const upgraded = DataPlane.open({ instance, role: 'anchor' });
      try {
        expect(upgraded.carriedOver).toEqual(['tunnels']);
        expect(upgraded.resumed).toBe(true);
        expect(shownMap(join(pinDir, 'tunnels')).bytes_value).toBe(layouts.tunnel_slot.size);
        expect(tunnelIds(upgraded)).toEqual([udp.id]);
        expect(upgraded.bindingIds()).toEqual([udp.id]);
        expect(upgraded.binding(udp.id)).toEqual({ ...udp, homeAddresses: ['10.1.0.10', '2001:db8:1::10'], prefixes: ['10.200.0.0/16', '2001:db8:100::/48'] });
        expect(upgraded.lookupEntry('10.1.0.10')).toMatchObject({ bindingId: udp.id, remote: '203.0.113.7', nexthop: null });
        expect(entries(upgraded).filter((e) => e.endsWith('-> 11'))).toEqual([]);
      } finally {
        upgraded.close();
      }
      const next = DataPlane.open({ instance, role: 'anchor' });
      expect(next.carriedOver).toEqual([]);
      next.close();
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });
});

describe('an instance whose counters an older build pinned with fewer reasons', () => {
  it('gets them replaced, empty, with every reason this build counts', () => {
    const instance = `${INSTANCE}-counters`;
    const first = DataPlane.open({ instance, role: 'anchor' });
    const pin = join(first.pinDir, 'events');
    first.close();
    try {
      pinInstead(pin, 'type', 'percpu_array', 'key', '4', 'value', '64', 'entries', '1'); // 8 events, as before icmp_withheld
      const upgraded = DataPlane.open({ instance, role: 'anchor' });
      try {
        expect(Object.keys(upgraded.events())).toContain('icmp_rate_limited');
        expect(Object.values(upgraded.events()).every((n) => n === 0n)).toBe(true);
        expect(shownMap(pin).bytes_value).toBe(8 * Object.keys(upgraded.events()).length);
      } finally {
        upgraded.close();
      }
    } finally {
      rmSync(join(PIN_ROOT, instance), { recursive: true, force: true });
    }
  });
});

describe('endpoints', () => {
  const listened = (port: number): number => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(port);
    return libbpf.lookup(libbpf.getPinned(join(dp.pinDir, 'endpoint_ports')), key, 1)![0]!;
  };

  it('a UDP port stays open while any endpoint uses it', () => {
    dp.addEndpoint('198.51.100.1', 4191, ['decap', 'mh']);
    dp.addEndpoint('203.0.113.1', 4191, ['decap']);
    dp.addEndpoint('198.51.100.1', 0, ['decap']);
    expect([listened(4191), listened(434), listened(0)]).toEqual([1, 0, 0]);
    dp.removeEndpoint('198.51.100.1', 4191);
    expect(listened(4191)).toBe(1);
    dp.removeEndpoint('203.0.113.1', 4191);
    expect(listened(4191)).toBe(0);
    dp.removeEndpoint('198.51.100.1', 0);
  });
});
