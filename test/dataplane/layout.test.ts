/**
 * The TypeScript layouts (control/dataplane/layout.ts) against the compiled
 * object: every struct the control plane encodes or decodes must have, in
 * the BTF of build/bpf/anchor.o, the same size and the same fields at the
 * same offsets with the same sizes. The enum numbers, which BTF does not
 * carry (the programs store them in __u8/__u32 fields), are checked by
 * compiling bpf/anchor.h into a small host program that prints them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Btf } from '../../control/dataplane/btf.js';
import { DataPlane, defaultObject, packageRoot } from '../../control/dataplane/dataplane.js';
import { EndpointFlag, Role, TunnelFormat, layouts } from '../../control/dataplane/layout.js';

const btf = new Btf(defaultObject);

describe.each(Object.values(layouts).map((l) => [l.name, l] as const))('struct %s', (name, layout) => {
  const inBtf = btf.struct(name);

  it('has the size of the BTF struct', () => {
    expect(layout.size).toBe(inBtf.size);
  });

  it('has every BTF field, at its offset and with its size, and no other', () => {
    const fromBtf = Object.fromEntries(inBtf.fields.map((f) => [f.name, { offset: f.offset, size: f.size }]));
    expect(layout.fields).toEqual(fromBtf);
  });

  it('fields do not overlap and stay inside the struct', () => {
    const sorted = Object.values(layout.fields).sort((a, b) => a.offset - b.offset);
    sorted.forEach((f, i) => {
      expect(f.offset + f.size).toBeLessThanOrEqual(sorted[i + 1]?.offset ?? layout.size);
    });
  });
});

describe('counter names', () => {
  let dp: DataPlane;
  beforeAll(() => { dp = DataPlane.open({ instance: 'test-layout', role: 'anchor' }); });
  afterAll(() => dp?.destroy());

  // The order of DROP_REASONS / EVENTS in bpf/anchor.h: the enum value of a
  // reason is the index of its counter, so the names must come in this order.
  const DROPS = ['malformed_l3', 'malformed_tunnel', 'malformed_inner', 'outer_fragment', 'unknown_inner_source',
    'spoofed_outer', 'format_mismatch', 'ecn', 'too_big', 'too_big_no_df', 'too_big_local', 'gso_tlv', 'no_route',
    'headroom', 'signal_too_big', 'signal_queue_full'];
  const EVENTS = ['signal', 'icmp_sent', 'stack_no_neigh', 'stack_ttl', 'stack_route', 'nh_learnt', 'proxy_arp', 'proxy_na', 'icmp_withheld', 'icmp_rate_limited', 'tunnel_busy'];

  it('drop_counters: one u64 per reason, named as DataPlane.drops() reports them', () => {
    const s = btf.struct('drop_counters');
    expect(s.fields.map((f) => f.name)).toEqual(DROPS);
    expect(s.fields.map((f) => [f.offset, f.size])).toEqual(DROPS.map((_, i) => [i * 8, 8]));
    expect(s.size).toBe(DROPS.length * 8);
    expect(Object.keys(dp.drops())).toEqual(DROPS);
    expect(Object.values(dp.drops()).every((v) => v === 0n)).toBe(true);
  });

  it('event_counters: one u64 per event, named as DataPlane.events() reports them', () => {
    const s = btf.struct('event_counters');
    expect(s.fields.map((f) => f.name)).toEqual(EVENTS);
    expect(s.fields.map((f) => [f.offset, f.size])).toEqual(EVENTS.map((_, i) => [i * 8, 8]));
    expect(Object.keys(dp.events())).toEqual(EVENTS);
  });
});

describe('enum numbers (from bpf/anchor.h, compiled)', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'layout-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tunnel formats, roles and endpoint flags have the values layout.ts writes', () => {
    const src = join(dir, 'enums.c');
    writeFileSync(src, `#include <stdio.h>
#include "anchor.h"
int main(void) {
  printf("{\\"format\\":{\\"ip6\\":%d,\\"ip4\\":%d,\\"udp4\\":%d,\\"udp4-tlv\\":%d},", TUNNEL_IP6, TUNNEL_IP4, TUNNEL_UDP4, TUNNEL_UDP4_TLV);
  printf("\\"role\\":{\\"anchor\\":%d,\\"mobile\\":%d},", ROLE_ANCHOR, ROLE_MOBILE);
  printf("\\"endpoint\\":{\\"decap\\":%d,\\"mh\\":%d,\\"signal\\":%d}}", ENDPOINT_DECAP, ENDPOINT_MH, ENDPOINT_SIGNAL);
  return 0;
}
`);
    const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
    execFileSync('clang-19', ['-I', join(packageRoot, 'bpf'), `-I/usr/include/${arch}-linux-gnu`, src, '-o', join(dir, 'enums')]);
    const fromC = JSON.parse(execFileSync(join(dir, 'enums'), { encoding: 'utf8' })) as unknown;
    expect(fromC).toEqual({ format: TunnelFormat, role: Role, endpoint: EndpointFlag });
  });
});
