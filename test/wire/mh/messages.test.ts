/**
 * The Mobility Header messages: octets of each message as RFC 6275 and
 * RFC 5846 draw it, every flag in its final IANA position, lifetimes in
 * 4-second units, HoTI/CoTI/HoT/CoT and unknown types reported as
 * unsupported, errors naming field and offset, and the properties:
 * decode(encode(m)) = m, and random or mutated bytes only ever give a
 * DecodeError, quickly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError, Reader } from '../../../control/wire/buffer.js';
import {
  BaStatus,
  MH_CHECKSUM_OFFSET,
  MhType,
  codeName,
  decodeMobilityHeader,
  encodeMobilityHeader,
  mobilityHeader,
  optionLocations,
  type BindingUpdate,
  type BuFlags,
  type MobilityHeader,
} from '../../../control/wire/mh/index.js';
import { message, messageArbs } from './arbitraries.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const noBu: BuFlags = { a: false, h: false, l: false, k: false, m: false, r: false, p: false, f: false, t: false };

const vectors: [string, MobilityHeader, string][] = [
  ['Binding Refresh Request', { type: 'bindingRefreshRequest', checksum: 0x1234, options: [] }, '3b 00 00 00 1234 0000'],
  [
    'Binding Update (A H F T, lifetime 400 s)',
    { type: 'bindingUpdate', checksum: 0, sequence: 0x0102, flags: { ...noBu, a: true, h: true, f: true, t: true }, lifetime: 400, options: [] },
    // seq, flags A|H|F|T = 0xc180, lifetime 100 units, PadN(2) to 16 octets
    '3b 01 05 00 0000 0102 c180 0064 01020000',
  ],
  [
    'Proxy Binding Update (A P, with a Home Network Prefix)',
    {
      type: 'bindingUpdate', checksum: 0xbeef, sequence: 7, flags: { ...noBu, a: true, p: true }, lifetime: 3600,
      options: [{ type: 'homeNetworkPrefix', prefixLength: 64, prefix: '2001:db8:1:2::' }],
    },
    // options at 12: HNP needs 8n+4 → no padding; 12 + 20 = 32
    '3b 03 05 00 beef 0007 8200 0384 1612 0040 20010db8000100020000000000000000',
  ],
  [
    'Binding Acknowledgement (status 146, K P T, with NAT detection)',
    {
      type: 'bindingAcknowledgement', checksum: 0, status: 146, flags: { k: true, r: false, p: true, t: true }, sequence: 0xfffe, lifetime: 0,
      options: [{ type: 'natDetection', f: false, refreshTime: 110 }],
    },
    // options at 12: NAT detection 4n → at 12; ends at 20; PadN(4) to 24
    '3b 02 06 00 0000 92 b0 fffe 0000 1f06 0000 0000006e 01020000',
  ],
  [
    'Binding Error (status 2)',
    { type: 'bindingError', checksum: 0, status: 2, homeAddress: '2001:db8::77', options: [] },
    '3b 02 07 00 0000 02 00 20010db8000000000000000000000077',
  ],
  [
    'Binding Revocation Indication (trigger 1, P G)',
    { type: 'bindingRevocationIndication', checksum: 0, trigger: 1, sequence: 300, flags: { p: true, v: false, g: true }, options: [] },
    '3b 01 10 00 0000 01 01 012c a000 01020000',
  ],
  [
    'Binding Revocation Acknowledgement (status 128, V)',
    { type: 'bindingRevocationAcknowledgement', checksum: 0, status: 128, sequence: 300, flags: { p: false, v: true, g: false }, options: [] },
    '3b 01 10 00 0000 02 80 012c 4000 01020000',
  ],
  [
    'Home Test Init, reported as unsupported',
    { type: 'unsupported', mhType: MhType.homeTestInit, checksum: 0, data: hex('0000 1122334455667788') },
    '3b 01 01 00 0000 0000 1122334455667788',
  ],
  [
    'Care-of Test, reported as unsupported',
    { type: 'unsupported', mhType: MhType.careOfTest, checksum: 0, data: hex('0003 1122334455667788 99aabbccddeeff00') },
    '3b 02 04 00 0000 0003 1122334455667788 99aabbccddeeff00',
  ],
  [
    'an MH type nobody assigned, reported as unsupported',
    { type: 'unsupported', mhType: 200, checksum: 7, data: hex('0102') },
    '3b 00 c8 00 0007 0102',
  ],
];

describe('Mobility Header messages', () => {
  it.each(vectors)('%s: octets and decode', (_name, m, bytes) => {
    expect(encodeMobilityHeader(m).toString('hex')).toBe(hex(bytes).toString('hex'));
    expect(decodeMobilityHeader(hex(bytes))).toStrictEqual(m);
  });

  it('the vectors cover every message type', () => {
    expect(new Set(vectors.map(([, m]) => m.type))).toEqual(new Set(Object.keys(messageArbs)));
  });

  it.each([
    ['a', 0x8000], ['h', 0x4000], ['l', 0x2000], ['k', 0x1000], ['m', 0x0800], ['r', 0x0400], ['p', 0x0200], ['f', 0x0100], ['t', 0x0080],
  ] as const)('BU flag %s is bit 0x%s of the flags word', (flag, bit) => {
    const m: BindingUpdate = { type: 'bindingUpdate', checksum: 0, sequence: 1, flags: { ...noBu, [flag]: true }, lifetime: 4, options: [] };
    const mh = encodeMobilityHeader(m);
    expect(mh.readUInt16BE(8)).toBe(bit);
    expect(decodeMobilityHeader(mh)).toStrictEqual(m);
  });

  it.each([['k', 0x80], ['r', 0x40], ['p', 0x20], ['t', 0x10]] as const)('BA flag %s is bit 0x%s of the flags octet', (flag, bit) => {
    const flags = { k: false, r: false, p: false, t: false, [flag]: true };
    const mh = encodeMobilityHeader({ type: 'bindingAcknowledgement', status: 0, flags, sequence: 1, lifetime: 4, options: [] });
    expect(mh[7]).toBe(bit);
  });

  it('BU bits the codec does not know (the B flag, reserved) are ignored on decode', () => {
    const m = decodeMobilityHeader(hex('3b 01 05 00 0000 0001 007f 0001 01020000'));
    expect(m).toMatchObject({ type: 'bindingUpdate', flags: { ...noBu, t: false }, lifetime: 4 });
  });

  it('lifetimes travel in 4-second units: 65535 units is 262140 s', () => {
    const m: BindingUpdate = { type: 'bindingUpdate', checksum: 0, sequence: 0, flags: noBu, lifetime: 262140, options: [] };
    expect(encodeMobilityHeader(m).readUInt16BE(10)).toBe(0xffff);
    expect(decodeMobilityHeader(encodeMobilityHeader(m))).toStrictEqual(m);
  });

  it('the checksum field is at offset 4 and carried as given', () => {
    expect(MH_CHECKSUM_OFFSET).toBe(4);
    const mh = encodeMobilityHeader({ type: 'bindingRefreshRequest', checksum: 0xabcd, options: [] });
    expect(mh.readUInt16BE(MH_CHECKSUM_OFFSET)).toBe(0xabcd);
    expect(encodeMobilityHeader({ type: 'bindingRefreshRequest', options: [] }).readUInt16BE(MH_CHECKSUM_OFFSET)).toBe(0);
  });

  it('the status table names the IANA codes, including RFC 4285 144-146', () => {
    expect([144, 145, 146, 129, 174].map((c) => codeName(BaStatus, c))).toEqual(['mipv6IdMismatch', 'mipv6MesgIdReqd', 'mipv6AuthFail', 'administrativelyProhibited', 'invalidCareOfAddress']);
    expect(codeName(BaStatus, 147)).toBeUndefined();
  });

  it('read() stops at Header Len, leaving what follows to the caller', () => {
    const r = new Reader(hex('3b 00 00 00 0000 0000 ffff'));
    expect(mobilityHeader.read(r)).toStrictEqual({ type: 'bindingRefreshRequest', checksum: 0, options: [] });
    expect(r.offset).toBe(8);
  });

  it('optionLocations gives each option offset and length, padding excluded', () => {
    const mh = encodeMobilityHeader({
      type: 'bindingUpdate', sequence: 1, flags: noBu, lifetime: 0,
      options: [
        { type: 'mobileNodeIdentifier', subtype: 1, identifier: 'mn@example.org' },
        { type: 'mobilityMessageAuthentication', subtype: 1, spi: 1000, authenticator: Buffer.alloc(12) },
      ],
    });
    // MN-ID at 12 (17 octets) → 29; the authentication option needs 4n+1: 29 already is
    expect(optionLocations(mh)).toEqual([{ code: 8, offset: 12, length: 17 }, { code: 9, offset: 29, length: 19 }]);
  });
});

describe('decode errors name field and offset', () => {
  it.each([
    ['an empty buffer', '', 'mh.payloadProto', 0],
    ['a Header Len past the end', '3b 02 05 00 0000 0000 0000 0000 0000', 'mh.length', 2],
    ['a Header Len too short for a Binding Update', '3b 00 05 00 0000 0000', 'mh.headerLength', 1],
    ['a Header Len too short for a Binding Error', '3b 01 07 00 0000 0000 0000 0000 0000 0000', 'mh.headerLength', 1],
    ['a Binding Revocation of B.R. Type 3', '3b 01 10 00 0000 03 00 0000 0000 0000 0000', 'bindingRevocation.brType', 6],
    ['trailing octets after the MH', '3b 00 00 00 0000 0000 00', 'mh', 8],
  ])('%s', (_name, bytes, field, offset) => {
    try {
      decodeMobilityHeader(hex(bytes));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect([(e as DecodeError).field, (e as DecodeError).offset]).toEqual([field, offset]);
    }
  });
});

describe('encode validates its input', () => {
  const bu = (over: Partial<BindingUpdate>): MobilityHeader => ({ type: 'bindingUpdate', sequence: 1, flags: noBu, lifetime: 4, options: [], ...over });
  it.each<[string, MobilityHeader, string]>([
    ['a lifetime not a multiple of 4', bu({ lifetime: 6 }), 'bindingUpdate.lifetime'],
    ['a lifetime above 65535 units', bu({ lifetime: 262144 }), 'bindingUpdate.lifetime'],
    ['a sequence number above 16 bits', bu({ sequence: 65536 }), 'bindingUpdate.sequence'],
    ['a missing flag', bu({ flags: { ...noBu, t: undefined } as unknown as BuFlags }), 'bindingUpdate.flags.t'],
    ['a checksum above 16 bits', bu({ checksum: 0x10000 }), 'bindingUpdate.checksum'],
    ['options that are not an array', bu({ options: undefined as never }), 'options'],
    ['a BA status above 255', { type: 'bindingAcknowledgement', status: 256, flags: { k: false, r: false, p: false, t: false }, sequence: 0, lifetime: 0, options: [] }, 'bindingAcknowledgement.status'],
    ['a Binding Error home address that is IPv4', { type: 'bindingError', status: 1, homeAddress: '10.0.0.1', options: [] }, 'bindingError.homeAddress'],
    ['an unsupported message of a supported type', { type: 'unsupported', mhType: 5, data: Buffer.alloc(2) }, 'unsupported.mhType'],
    ['an unsupported message not padded to 8n', { type: 'unsupported', mhType: 1, data: Buffer.alloc(3) }, 'unsupported.data'],
    ['a message type that does not exist', { type: 'homeAgentSwitch' } as unknown as MobilityHeader, 'type'],
    ['an MH over 2048 octets', bu({ options: Array.from({ length: 9 }, () => ({ type: 'unknown' as const, code: 200, data: Buffer.alloc(250) })) }), 'bindingUpdate.length'],
  ])('%s', (_name, m, field) => {
    try {
      encodeMobilityHeader(m);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EncodeError);
      expect((e as EncodeError).field).toBe(field);
    }
  });
});

describe('properties', () => {
  it('decode(encode(m)) is m for every message type', () => {
    fc.assert(fc.property(message, (m) => {
      expect(decodeMobilityHeader(encodeMobilityHeader(m))).toStrictEqual(m);
    }), { numRuns: 3000 });
  });

  it('encodingLength is the length written', () => {
    fc.assert(fc.property(message, (m) => {
      expect(encodeMobilityHeader(m).length).toBe(mobilityHeader.encodingLength(m));
    }), { numRuns: 500 });
  });

  it('encode refuses any malformed value with an EncodeError, never another exception', () => {
    // a valid message with one field, anywhere in it, replaced by anything at all
    const clone = (v: unknown): unknown => (Buffer.isBuffer(v) || v === null || typeof v !== 'object' ? v
      : Array.isArray(v) ? v.map(clone) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)])));
    const broken = fc.tuple(message, fc.nat(), fc.anything({ withBigInt: true, withNullPrototype: true, withTypedArray: true })).map(([valid, pick, junk]) => {
      const m = clone(valid) as MobilityHeader;
      const paths: (string | number)[][] = [];
      const walk = (v: unknown, path: (string | number)[]) => {
        if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return;
        for (const [k, x] of Object.entries(v)) {
          paths.push([...path, Array.isArray(v) ? Number(k) : k]);
          walk(x, [...path, Array.isArray(v) ? Number(k) : k]);
        }
      };
      walk(m, []);
      const path = paths[pick % paths.length]!;
      let at = m as unknown as Record<string | number, unknown>;
      for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
      at[path.at(-1)!] = junk;
      return m;
    });
    fc.assert(fc.property(broken, (m) => {
      try {
        encodeMobilityHeader(m);
      } catch (e) {
        expect(e).toBeInstanceOf(EncodeError);
      }
    }), { numRuns: 5000 });
  });

  /** Decodes `bytes`; anything but success or a DecodeError fails. Returns the time taken. */
  const onlyDecodeError = (bytes: Uint8Array): number => {
    const t0 = performance.now();
    try {
      mobilityHeader.read(new Reader(Buffer.from(bytes)));
      optionLocations(Buffer.from(bytes));
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
    return performance.now() - t0;
  };

  it('random bytes only ever throw DecodeError, quickly (20k runs)', () => {
    // headers that look right (Payload Proto 59, a matching Header Len, a real
    // MH type) so the message and option parsers see the random octets
    const plausible = fc.tuple(fc.integer({ min: 0, max: 20 }), fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 16, 99), fc.uint8Array({ maxLength: 168 })).map(([units, type, rest]) => {
      const b = Buffer.alloc((units + 1) * 8);
      Buffer.from(rest).copy(b, 6);
      b[0] = 59; b[1] = units; b[2] = type;
      if (type === 16) b[6] = 1 + (rest[0] ?? 0) % 2;
      return b;
    });
    let worst = 0;
    let runs = 0;
    let decoded = 0;
    const t0 = performance.now();
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), plausible), (b) => {
      runs++;
      worst = Math.max(worst, onlyDecodeError(b));
      try { mobilityHeader.read(new Reader(Buffer.from(b))); decoded++; } catch { /* counted above */ }
    }), { numRuns: 20_000 });
    expect(runs).toBe(20_000);
    expect(decoded).toBeGreaterThan(1000); // the plausible headers do reach the message and option parsers
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(worst).toBeLessThan(100);
  });

  it('mutated valid encodings only ever throw DecodeError, quickly (20k runs)', () => {
    const mutated = fc.tuple(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.integer({ min: -16, max: 16 }))
      .map(([m, edits, resize]) => {
        const enc = encodeMobilityHeader(m);
        const b = Buffer.concat([enc, Buffer.alloc(Math.max(0, resize))]).subarray(0, Math.max(0, enc.length + Math.min(0, resize)));
        for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
        return b;
      });
    let worst = 0;
    const t0 = performance.now();
    fc.assert(fc.property(mutated, (b) => { worst = Math.max(worst, onlyDecodeError(b)); }), { numRuns: 20_000 });
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(worst).toBeLessThan(100);
  });
});
