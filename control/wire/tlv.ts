/**
 * The DSMIPv6 TLV header that follows UDP in the "TLV-header UDP
 * encapsulation" (draft-ietf-mip6-nemo-v4traversal-06 §4.1):
 *
 *   Type(8) | Length(8) | Reserved(16)
 *
 * Type says what follows; Length is the payload length after the header. An
 * 8-bit Length cannot hold most IP packets: like the data plane (bpf/lib/encap.h,
 * README "TLV length") we write it modulo 256 and accept any value on receipt,
 * the inner IP header being authoritative.
 */
import { Codec, EncodeError } from './buffer.js';

export const TLV_HEADER_LENGTH = 4;

/** Payload types of the draft (§4.1); numbers shared with bpf/lib/common.h TLV_TYPE_*. */
export const TlvType = { ipv4: 1, ipv6: 2, ipsec: 3, gre: 4 } as const;
export type TlvTypeName = keyof typeof TlvType;

export interface TlvHeader {
  type: TlvTypeName;
  /** The Length field as on the wire (0..255). */
  length: number;
}

const names = new Map<number, TlvTypeName>((Object.keys(TlvType) as TlvTypeName[]).map((k) => [TlvType[k], k]));

/** The header for a payload of `payloadLength` octets (Length modulo 256, see above). */
export function tlvHeaderFor(type: TlvTypeName, payloadLength: number): TlvHeader {
  if (!Number.isInteger(payloadLength) || payloadLength < 0) throw new EncodeError('tlv.length', String(payloadLength), 'not a payload length');
  return { type, length: payloadLength & 0xff };
}

export const tlvHeader: Codec<TlvHeader> = {
  encodingLength: () => TLV_HEADER_LENGTH,
  write(h, w) {
    const type = typeof h.type === 'string' && Object.hasOwn(TlvType, h.type) ? TlvType[h.type] : undefined;
    if (type === undefined) throw new EncodeError('tlv.type', typeof h.type === 'string' ? h.type : typeof h.type, `not one of ${Object.keys(TlvType).join(', ')}`);
    if (!Number.isInteger(h.length) || h.length < 0 || h.length > 0xff) throw new EncodeError('tlv.length', typeof h.length === 'number' ? h.length : typeof h.length, 'not an 8-bit length');
    w.u8(type).u8(h.length).u16(0);
  },
  read(r) {
    const at = r.offset;
    const code = r.u8('tlv.type');
    const type = names.get(code);
    if (type === undefined) return r.fail('tlv.type', code, 'not a known payload type (1 IPv4, 2 IPv6, 3 IPsec, 4 GRE)', at);
    const length = r.u8('tlv.length');
    r.skip(2, 'tlv.reserved');
    return { type, length };
  },
};
