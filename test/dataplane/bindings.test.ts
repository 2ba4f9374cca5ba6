/**
 * The driver's binding table against the real maps: install, replace and
 * remove write exactly the entries a binding needs; conflicts and bad input
 * are refused with the field named; a failed write leaves nothing behind;
 * a concurrent reader never sees half a binding.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BindingError, DataPlane, PIN_ROOT, type Binding } from '../../control/dataplane/dataplane.js';
import { libbpf } from '../../control/dataplane/libbpf.js';
import { closeFd } from '../../control/sys/libc.js';
import { encodeHomeKey, layouts } from '../../control/dataplane/layout.js';
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
      const value = libbpf.lookup(fd, key, layouts.tunnel.size)!;
      out.push(`${map} ${key.toString('hex')} -> ${value.readUInt32LE(0)}`);
    }
  }
  return out.sort();
}

describe('install, replace, remove', () => {
  it('writes one entry per home address and prefix, each carrying the whole tunnel', () => {
    dp.install(udp);
    expect(entries()).toEqual([
      'home4 0a01000a -> 10',
      'home6 20010db8000100000000000000000010 -> 10',
      'prefix4 100000000ac80000 -> 10',
      'prefix6 3000000020010db8010000000000000000000000 -> 10',
    ]);
    expect(dp.lookupEntry('10.1.0.10')).toMatchObject({ format: 'udp4', local: '198.51.100.1', remote: '203.0.113.7', localPort: 4191, remotePort: 40001, nexthop: null });
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

  it('removes every entry of a binding', () => {
    expect(dp.remove(udp.id)).toBe(true);
    expect(entries()).toEqual([]);
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
    expect(dp.lookupEntry('2001:db8:2::1387')).toMatchObject({ bindingId: 5999, remote: '203.0.19.135' });
    for (const b of many) dp.remove(b.id);
    expect(entries()).toEqual([]);
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

  it('a write that fails midway undoes what it wrote and keeps the previous binding', () => {
    const small = DataPlane.open({ instance: `${INSTANCE}-small`, role: 'anchor' });
    try {
      const fd = libbpf.getPinned(join(small.pinDir, 'home4'));
      // fill home4 to its last free slot with foreign entries, so a binding with two IPv4 addresses cannot fit
      const max = 262144;
      const value = Buffer.alloc(layouts.tunnel.size);
      const keys = Buffer.alloc(4 * (max - 1));
      for (let i = 0; i < max - 1; i++) keys.writeUInt32BE(0x0b000000 + i, i * 4);
      libbpf.updateBatch(fd, keys, Buffer.concat(Array.from({ length: max - 1 }, () => value)), max - 1);
      expect(() => small.install({ ...udp, homeAddresses: ['10.1.0.10', '10.1.0.11'], prefixes: [] })).toThrow(/bpf_map_update_elem/);
      expect(libbpf.lookup(fd, encodeHomeKey('10.1.0.10'), layouts.tunnel.size)).toBeNull();
      expect(small.binding(udp.id)).toBeUndefined();
    } finally {
      small.destroy();
    }
  });
});

describe('moves held to the end of batchMoves()', () => {
  const ip4 = (id: number, home: string, remote: string): Binding => ({ id, tunnel: { format: 'ip4', local: '198.51.100.1', remote }, homeAddresses: [home], prefixes: [] });
  const remoteOf = (plane: DataPlane, home: string) => plane.lookupEntry(home)?.remote;

  it('are written at its end, in one batch: the last of several moves stands, and a removal or a change of addresses in between wins', () => {
    const [a, b, c] = [ip4(40, '10.4.0.1', '203.0.113.1'), ip4(41, '10.4.0.2', '203.0.113.1'), ip4(42, '10.4.0.3', '203.0.113.1')];
    for (const x of [a, b, c]) dp.install(x);
    const failed: number[] = [];
    dp.batchMoves(() => {
      dp.install({ ...a, tunnel: { ...a.tunnel, remote: '203.0.113.2' } });
      dp.install({ ...a, tunnel: { ...a.tunnel, remote: '203.0.113.3' } }); // moved twice
      dp.install({ ...b, tunnel: { ...b.tunnel, remote: '203.0.113.2' } });
      dp.remove(b.id); // moved, then gone
      dp.install({ ...c, tunnel: { ...c.tunnel, remote: '203.0.113.2' } });
      dp.install({ ...c, homeAddresses: ['10.4.0.4'], tunnel: { ...c.tunnel, remote: '203.0.113.4' } }); // moved, then other addresses: written at once
      expect(remoteOf(dp, '10.4.0.1')).toBe('203.0.113.1'); // not yet
      expect(remoteOf(dp, '10.4.0.4')).toBe('203.0.113.4');
    }, (_move, id) => failed.push(id));
    expect(failed).toEqual([]);
    expect([remoteOf(dp, '10.4.0.1'), remoteOf(dp, '10.4.0.2'), remoteOf(dp, '10.4.0.3'), remoteOf(dp, '10.4.0.4')]).toEqual(['203.0.113.3', undefined, undefined, '203.0.113.4']);
    expect(dp.binding(a.id)?.tunnel).toMatchObject({ remote: '203.0.113.3' });
    dp.remove(a.id);
    dp.remove(c.id);
  });

  it('a move the kernel refuses puts that binding back as it was and names it; the others are written', () => {
    const small = DataPlane.open({ instance: `${INSTANCE}-moves`, role: 'anchor' });
    try {
      const [a, b] = [ip4(50, '10.5.0.1', '203.0.113.1'), ip4(51, '10.5.0.2', '203.0.113.1')];
      small.install(a);
      small.install(b);
      // a's entry deleted behind the driver's back and home4 filled: rewriting it needs a slot there is none of
      const fd = libbpf.getPinned(join(small.pinDir, 'home4'));
      libbpf.delete(fd, encodeHomeKey('10.5.0.1'));
      const free = 262144 - 1;
      const keys = Buffer.alloc(4 * free);
      for (let i = 0; i < free; i++) keys.writeUInt32BE(0x0b000000 + i, i * 4);
      libbpf.updateBatch(fd, keys, Buffer.alloc(layouts.tunnel.size * free), free);
      const failed: [number, string][] = [];
      small.batchMoves(() => {
        small.install({ ...a, tunnel: { ...a.tunnel, remote: '203.0.113.9' } });
        small.install({ ...b, tunnel: { ...b.tunnel, remote: '203.0.113.9' } });
      }, (_move, id, err) => failed.push([id, err.message]));
      expect(failed).toEqual([[a.id, expect.stringMatching(/bpf_map_update_elem/)]]);
      expect(small.binding(a.id)).toEqual(a);
      expect(remoteOf(small, '10.5.0.1')).toBeUndefined();
      expect(remoteOf(small, '10.5.0.2')).toBe('203.0.113.9');
      closeFd(fd);
    } finally {
      small.destroy();
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
    expect(readdirSync(dp.pinDir).sort()).toEqual(['binding_cache', 'binding_counters', 'config', 'dest_cache', 'drops', 'endpoint_cache', 'endpoint_ports', 'endpoints', 'events', 'home4', 'home6', 'home_links', 'icmp_budget', 'links', 'prefix4', 'prefix6', 'signals']);
  });

  it('bpftool shows drop counters and tunnels with their field names', () => {
    type Dump = { formatted: { values?: { value: Record<string, number> }[]; value?: Record<string, unknown> } }[];
    const drops = bpftool('map', 'dump', 'pinned', join(dp.pinDir, 'drops')) as Dump;
    expect(Object.keys(drops[0]!.formatted.values![0]!.value)).toEqual(Object.keys(dp.drops()));
    dp.install(udp);
    const home4 = bpftool('map', 'dump', 'pinned', join(dp.pinDir, 'home4')) as Dump;
    expect(home4[0]!.formatted.value).toMatchObject({ binding_id: 10, format: 3, local_port: 0x5f10 /* 4191, big-endian */ });
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
      // and home4 preallocated, which alone would be carried over
      pinInstead(join(pinDir, 'home4'), 'type', 'hash', 'key', '4', 'value', String(layouts.tunnel.size), 'entries', '262144');
      const home4 = () => shownMap(join(pinDir, 'home4'));
      const before = home4();
      expect(() => DataPlane.open({ instance: `${INSTANCE}-other`, role: 'anchor' }))
        .toThrow(`${join(pinDir, 'home6')}: pinned by another build of the data plane: valueSize 60 (this build: ${layouts.tunnel.size})`);
      expect(home4()).toEqual(before); // refused as a whole: nothing pinned was replaced
    } finally {
      rmSync(pinDir, { recursive: true, force: true });
    }
  });
});

describe('an instance pinned by an older build with other map flags', () => {
  it('keeps its bindings: home6 pinned preallocated is replaced by this build\'s map, entries carried over', () => {
    const instance = `${INSTANCE}-upgrade`;
    const first = DataPlane.open({ instance, role: 'anchor' });
    const pinDir = first.pinDir;
    const pin = join(pinDir, 'home6');
    const mapFlags = () => shownMap(pin).flags;
    try {
      first.install(udp);
      const before = entries(first).filter((e) => e.startsWith('home6'));
      first.close();
      // what older builds pinned: the same home6, preallocated (map_flags 0), holding the same entries
      const current = libbpf.getPinned(pin);
      const held = [...libbpf.keys(current, 16)].map((k) => [k, libbpf.lookup(current, k, layouts.tunnel.size)!] as const);
      closeFd(current);
      pinInstead(pin, 'type', 'hash', 'key', '16', 'value', String(layouts.tunnel.size), 'entries', '262144');
      expect(mapFlags()).toBe(0);
      const old = libbpf.getPinned(pin);
      for (const [k, v] of held) libbpf.update(old, k, v);
      closeFd(old);

      const upgraded = DataPlane.open({ instance, role: 'anchor' });
      try {
        expect(upgraded.carriedOver).toEqual(['home6']);
        expect(mapFlags()).toBe(1); // BPF_F_NO_PREALLOC
        expect(entries(upgraded).filter((e) => e.startsWith('home6'))).toEqual(before);
        expect(upgraded.lookupEntry('2001:db8:1::10')).toMatchObject({ bindingId: 10, remote: '203.0.113.7' });
      } finally {
        upgraded.close();
      }
      const next = DataPlane.open({ instance, role: 'anchor' });
      expect(next.carriedOver).toEqual([]); // and the next start simply reuses it
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
