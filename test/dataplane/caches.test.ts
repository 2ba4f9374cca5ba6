/**
 * The per-CPU caches: the destination cache of the decapsulation path (a
 * destination's next hop learnt from the FIB once and reused) and the binding
 * cache of every lookup by address (answers, "no binding" included). Every
 * change the control plane makes (bindings, endpoints, flushNexthops after a
 * route or neighbour change) empties both through the generation number.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addrBytes, encodeHomeKey } from '../../control/dataplane/layout.js';
import { libbpf } from '../../control/dataplane/libbpf.js';
import type { Binding } from '../../control/dataplane/dataplane.js';
import { ADDR, MAC, XDP_PASS, XDP_REDIRECT, anchorTunnel, buildDataPlaneLab, changed, hex, type DataPlaneLab, named } from '../helpers/dataplane-lab.js';
import { eth, inner, innerLength, outer, receivedBy, sentBy, type InnerSpec } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';
import { pinThread } from '../../control/sys/libc.js';

let t: DataPlaneLab;
let f: Record<string, Buffer>;

const binding1: Binding = { id: 1, tunnel: anchorTunnel('ip6'), homeAddresses: [ADDR.home1.v6], prefixes: [] };
const NEW_MAC = '02:c0:00:00:0c:99';
const toCn: InnerSpec = { src: ADDR.home1.v6, dst: ADDR.cn.v6 };
const big: InnerSpec = { ...toCn, payload: 1400 };
const tunnelled = (spec: InnerSpec) => `${eth(MAC.mn, MAC.aMn)}/${outer(receivedBy(anchorTunnel('ip6')), 6, innerLength(6, spec))}${inner(6, spec)}`;

beforeAll(() => {
  pinThread([0]); // the caches are per CPU: every test run here must meet the same ones
  t = buildDataPlaneLab('dpdc');
  f = scapy({
    in: tunnelled(toCn),
    out: `${eth(MAC.aCn, MAC.cn)}/${inner(6, { ...toCn, ttl: 63 })}`,
    outNewMac: `${eth(MAC.aCn, NEW_MAC)}/${inner(6, { ...toCn, ttl: 63 })}`,
    bigIn: tunnelled(big),
    bigOut: `${eth(MAC.mn, MAC.aMn)}/${inner(6, big)}`,
    // binding 2 takes the correspondent's address: from then on it is a home address, tunnelled
    plain: `${eth(MAC.cn, MAC.aCn)}/${inner(6, { src: ADDR.cn.v6, dst: ADDR.home2.v6 })}`,
    plainOut: `${eth(MAC.aMn, MAC.mn)}/${outer(sentBy(anchorTunnel('ip6')), 6, innerLength(6, { src: ADDR.cn.v6, dst: ADDR.home2.v6 }))}${inner(6, { src: ADDR.cn.v6, dst: ADDR.home2.v6, ttl: 63 })}`,
    toHome1: `${eth(MAC.cn, MAC.aCn)}/${inner(6, { src: ADDR.cn.v6, dst: ADDR.home1.v6 })}`,
    toCnTunnelled: `${eth(MAC.aMn, MAC.mn)}/${outer(sentBy(anchorTunnel('ip6')), 6, innerLength(6, toCn))}${inner(6, { ...toCn, ttl: 63 })}`,
  });
  t.anchor.install(binding1);
});
afterAll(() => t?.destroy());

const frame = (name: string): Buffer => named(f, name);
const decap = (name: string, bindings = [1]) => t.xdp(t.anchor, 'a-mn', frame(name), bindings);

describe('destination cache', () => {
  it('learns a next hop once: a neighbour change is not seen until flushNexthops()', () => {
    t.anchor.flushNexthops();
    expect(hex(decap('in').frame)).toBe(hex(frame('out')));
    try {
      t.exec(t.ns.anchor, `ip neigh replace ${ADDR.cn.v6} lladdr ${NEW_MAC} dev a-cn nud permanent`);
      const cached = decap('in');
      expect(cached.verdict).toBe(XDP_REDIRECT);
      expect(hex(cached.frame)).toBe(hex(frame('out'))); // the old MAC: served from the cache
      t.anchor.flushNexthops();
      expect(hex(decap('in').frame)).toBe(hex(frame('outNewMac')));
    } finally {
      t.exec(t.ns.anchor, `ip neigh replace ${ADDR.cn.v6} lladdr ${MAC.cn} dev a-cn nud permanent`);
      t.anchor.flushNexthops();
    }
  });

  it('a binding installed for a cached destination takes over at once', () => {
    expect(hex(decap('in').frame)).toBe(hex(frame('out'))); // cached as "no home address: forward"
    try {
      t.anchor.install({ id: 2, tunnel: anchorTunnel('ip6'), homeAddresses: [ADDR.cn.v6], prefixes: [] });
      const r = decap('in', [1, 2]);
      expect(r.verdict).toBe(XDP_REDIRECT);
      expect(hex(r.frame)).toBe(hex(frame('toCnTunnelled')));
      expect(r.delta.bindings[2]).toMatchObject({ encapPackets: 1 });
    } finally {
      t.anchor.remove(2);
    }
    expect(hex(decap('in').frame)).toBe(hex(frame('out')));
  });

  it('keeps the MTU it learnt: a packet over it goes to the stack, which sends the error', () => {
    try {
      t.exec(t.ns.anchor, 'ip link set a-cn mtu 1400');
      t.anchor.flushNexthops();
      expect(decap('in').verdict).toBe(XDP_REDIRECT); // learnt, with MTU 1400
      const r = decap('bigIn');
      expect(r.verdict).toBe(XDP_PASS);
      expect(hex(r.frame)).toBe(hex(frame('bigOut')));
      expect(r.delta).toEqual(changed({ events: { stack_route: 1 }, bindings: { 1: { decapPackets: 1, decapBytes: innerLength(6, big) } } }));
    } finally {
      t.exec(t.ns.anchor, 'ip link set a-cn mtu 1500');
      t.anchor.flushNexthops();
    }
  });
});

describe('binding cache', () => {
  it('an address cached as "no binding" is tunnelled as soon as a binding takes it, and no longer once it is gone', () => {
    const send = () => t.xdp(t.anchor, 'a-cn', frame('plain'), [3]);
    expect(send().verdict).toBe(XDP_PASS);
    expect(send().verdict).toBe(XDP_PASS); // now from the cache
    t.anchor.install({ id: 3, tunnel: anchorTunnel('ip6'), homeAddresses: [ADDR.home2.v6], prefixes: [] });
    const first = send();
    expect(first.verdict).toBe(XDP_REDIRECT);
    expect(hex(first.frame)).toBe(hex(frame('plainOut')));
    const cached = send();
    expect(hex(cached.frame)).toBe(hex(frame('plainOut')));
    expect(cached.delta.bindings[3]).toMatchObject({ encapPackets: 1 });
    t.anchor.remove(3);
    expect(send().verdict).toBe(XDP_PASS);
  });

  it('an address a failed replacing install dropped, then put back, is tunnelled again at once: no "no binding" cached meanwhile outlives it', () => {
    const send = () => t.xdp(t.anchor, 'a-cn', frame('plain'), [4]);
    const other = '2001:db8:1::201';
    t.anchor.install({ id: 4, tunnel: anchorTunnel('ip6'), homeAddresses: [ADDR.home2.v6], prefixes: [] });
    try {
      expect(send().verdict).toBe(XDP_REDIRECT);
      const realUpdate = libbpf.update;
      let meanwhile: number | undefined;
      const spy = vi.spyOn(libbpf, 'update').mockImplementation((fd, key, value, flags) => {
        if (!key.equals(encodeHomeKey(other))) return realUpdate(fd, key, value, flags);
        meanwhile = send().verdict; // its old address is gone for now: this CPU caches "no binding" for it
        throw new Error('bpf_map_update_elem: no room (a full map, say)');
      });
      try {
        expect(() => t.anchor.install({ id: 4, tunnel: anchorTunnel('ip6'), homeAddresses: [other], prefixes: [] })).toThrow(/no room/);
      } finally {
        spy.mockRestore();
      }
      expect(meanwhile).toBe(XDP_PASS);
      expect(t.anchor.binding(4)?.homeAddresses).toEqual([ADDR.home2.v6]); // put back
      const r = send();
      expect(r.verdict).toBe(XDP_REDIRECT);
      expect(hex(r.frame)).toBe(hex(frame('plainOut')));
    } finally {
      t.anchor.remove(4);
    }
  });

  /** This CPU's binding cache entry for an IPv6 address, as bpftool shows it (the slot as lookup.h's addr_slot computes it). */
  const bindingCacheEntry = (address: string) => {
    const a = addrBytes(address);
    const folded = (a.readUInt32LE(0) ^ a.readUInt32LE(4) ^ a.readUInt32LE(8) ^ a.readUInt32LE(12)) >>> 0;
    const slot = Number((BigInt(folded) * 2654435761n) & 0xffffffffn) >>> 20;
    const key = [0, 8, 16, 24].map((s) => String((slot >>> s) & 0xff));
    const out = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'lookup', 'pinned', join(t.anchor.pinDir, 'binding_cache'), 'key', ...key], { encoding: 'utf8' })) as
      { formatted: { values: { cpu: number; value: { found: number; generation: number; tunnel: { nh_valid: number; binding_id: number } } }[] } };
    return out.formatted.values.find((v) => v.cpu === 0)!.value;
  };

  it('caches a binding that only decapsulates; sending into it still learns its next hop on the binding first', () => {
    t.anchor.flushNexthops(); // no binding has a next hop now
    expect(hex(decap('in').frame)).toBe(hex(frame('out')));
    const cached = bindingCacheEntry(ADDR.home1.v6);
    expect(cached).toMatchObject({ found: 1, tunnel: { binding_id: 1, nh_valid: 0 } });
    expect(cached.generation).toBeGreaterThan(0);
    expect(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop).toBeNull();
    const sent = t.xdp(t.anchor, 'a-cn', frame('toHome1'), [1]); // encapsulation passes over the copy without a next hop
    expect(sent.verdict).toBe(XDP_REDIRECT);
    expect(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop).not.toBeNull();
    expect(t.xdp(t.anchor, 'a-cn', frame('toHome1'), [1]).verdict).toBe(XDP_REDIRECT);
    expect(bindingCacheEntry(ADDR.home1.v6).tunnel.nh_valid).toBe(1);
  });

  it('decapsulates from the cache only while the tunnel\'s local address is a decapsulating endpoint', () => {
    expect(t.xdp(t.anchor, 'a-cn', frame('toHome1'), [1]).verdict).toBe(XDP_REDIRECT); // learns the next hop: cacheable
    expect(hex(decap('in').frame)).toBe(hex(frame('out')));
    expect(hex(decap('in').frame)).toBe(hex(frame('out'))); // from the cache
    t.anchor.removeEndpoint(ADDR.anchor.v6, 0);
    try {
      const r = decap('in');
      expect(r.verdict).toBe(XDP_PASS); // not ours any more: the kernel's, untouched and uncounted
      expect(hex(r.frame)).toBe(hex(frame('in')));
      expect(r.delta).toEqual(changed({}));
    } finally {
      t.anchor.addEndpoint(ADDR.anchor.v6, 0, ['decap', 'mh']);
    }
    expect(hex(decap('in').frame)).toBe(hex(frame('out')));
  });
});
