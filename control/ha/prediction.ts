/**
 * Binding Update prediction, after TCP's header prediction (Jacobson,
 * 1990): a node's next BU is nearly always its last accepted one again,
 * with a new sequence number, timestamp and authenticator, from the same
 * care-of address (a refresh) or a new one (a move). The home agent keeps,
 * per node, the IPv6 packet of the BU that made its binding and the BA that
 * answered it. A BU equal to that packet byte for byte outside those fields
 * asks for the same thing: its outcome is the last one's with those fields
 * changed, and its BA the last BA with its own sequence number, timestamp
 * and authenticator. Nothing to decode, no options to walk, no BA to encode.
 *
 * This module is the bytes: where the fields are, the comparison, the
 * patching. What the fields must satisfy (authenticator, replay window,
 * sequence number) is HomeAgent.predictedUpdate()'s; a BU that is not
 * predicted, or fails any check there, takes the general path, which
 * decides and explains. test/ha/prediction.test.ts holds both paths to the
 * same answers.
 *
 * Predicted: BUs over IPv6 whose care-of address is their source (no
 * Alternate Care-of Address option) with a Home Address option, and the
 * MN-HA authentication option last, ending the MH (as mobile nodes lay it
 * out: its SPI is then found from the packet's end, which names the node).
 */
import { onesSum, pseudoHeader6 } from '../wire/checksum.js';
import { IPPROTO, IPV6_HEADER_LENGTH } from '../wire/ip/constants.js';
import { MH_CHECKSUM_OFFSET, OptionType } from '../wire/mh/constants.js';
import { optionLocations } from '../wire/mh/messages.js';
import { MN_HA_AUTHENTICATOR_LENGTH, writeMnHaAuthenticator } from '../wire/auth/mipv6.js';
import type { HmacSha1Key } from '../wire/auth/sha1.js';

const SOURCE_AT = 8;
const DESTINATION_AT = 24;
/** A BU's sequence number follows the MH checksum; a BA's, its status and flags. */
const BU_SEQUENCE_AT = 6;
const BA_SEQUENCE_AT = 8;
/** An MN-HA option ending the MH: its SPI, then the authenticator. */
const SPI_FROM_END = 4 + MN_HA_AUTHENTICATOR_LENGTH;

/** The SPI a BU's last bytes would carry if its MN-HA option ends it: which node's prediction to try. */
export const trailingSpi = (packet: Buffer): number => (packet.length >= IPV6_HEADER_LENGTH + SPI_FROM_END ? packet.readUInt32BE(packet.length - SPI_FROM_END) : -1);

/** Where the timestamp of an MH's first Replay Protection option is, if its one MN-HA option ends it; undefined if not so. */
function timestampAt(mh: Buffer): number | undefined {
  const options = optionLocations(mh);
  const last = options[options.length - 1];
  const timestamp = options.find((o) => o.code === OptionType.replayProtection);
  if (!timestamp || timestamp.length !== 10 || last?.code !== OptionType.mobilityMessageAuthentication || last.offset + last.length !== mh.length) return undefined;
  if (last.length !== 3 + SPI_FROM_END || options.filter((o) => o.code === OptionType.mobilityMessageAuthentication).length !== 1) return undefined;
  return timestamp.offset + 2;
}

/** The one's-complement sum of an MH's pseudo-header (RFC 6275 §6.1.1), to start its checksum from. */
const pseudoSum = (source: Uint8Array, destination: Uint8Array, length: number) => onesSum([pseudoHeader6(source, destination, length, IPPROTO.MH)]);

/** The fields a predicted BU brings: its care-of address (its source), sequence number and timestamp. */
export interface PredictedFields {
  careOf: Buffer;
  sequence: number;
  timestamp: bigint;
}

/** An IPv6 packet whose MH is its end, and where in it the MH and its timestamp are. */
interface Message {
  packet: Buffer;
  mhAt: number;
  timestampAt: number;
  /** Of the MH's pseudo-header. */
  pseudoSum: number;
}

function message(packet: Buffer, mh: Buffer, source: Uint8Array, destination: Uint8Array): Omit<Message, 'packet'> | undefined {
  const mhAt = packet.length - mh.length;
  const at = timestampAt(mh);
  if (mhAt < IPV6_HEADER_LENGTH || at === undefined || !packet.subarray(mhAt).equals(mh)) return undefined;
  return { mhAt, timestampAt: mhAt + at, pseudoSum: pseudoSum(source, destination, mh.length) };
}

/**
 * One node's predicted bytes: its last accepted BU and the BA that
 * answered it, as the IPv6 packets they were, its home address and its
 * care-of address now. All in one buffer of their own: 100,000 small
 * buffers cut from Node's shared pool would each keep an 8 KiB slab alive.
 */
export class BuTemplate {
  private constructor(private readonly bu: Message, private readonly ba: Message, readonly home: Buffer, readonly careOf: Buffer) {}

  /**
   * From an accepted BU (its IPv6 packet, its MH the packet's end, its
   * checksum over the home address) and its BA's IPv6 packet (to the
   * care-of address, a type 2 routing header with the home address):
   * undefined if either is not laid out as predicted.
   */
  static of(bu: { packet: Buffer; mh: Buffer }, ba: { packet: Buffer; mh: Buffer }, home: Uint8Array): BuTemplate | undefined {
    const request = message(bu.packet, bu.mh, home, bu.packet.subarray(DESTINATION_AT, DESTINATION_AT + 16));
    const answer = message(ba.packet, ba.mh, ba.packet.subarray(SOURCE_AT, SOURCE_AT + 16), home);
    if (!request || !answer || onesSum([bu.mh], request.pseudoSum) !== 0xffff) return undefined; // (the checksum the general path checked is this one)
    const store = Buffer.allocUnsafeSlow(bu.packet.length + ba.packet.length + 32);
    let at = 0;
    const kept = (bytes: Uint8Array) => {
      store.set(bytes, at);
      return store.subarray(at, (at += bytes.length));
    };
    return new BuTemplate({ ...request, packet: kept(bu.packet) }, { ...answer, packet: kept(ba.packet) }, kept(home), kept(bu.packet.subarray(SOURCE_AT, DESTINATION_AT)));
  }

  /** The packet's own fields if it is this BU but for them; undefined otherwise. */
  match(packet: Buffer): PredictedFields | undefined {
    const { packet: t, mhAt, timestampAt } = this.bu;
    if (packet.length !== t.length) return undefined;
    const authAt = t.length - MN_HA_AUTHENTICATOR_LENGTH;
    // holes: traffic class and flow label (a kernel labels each flow its own way: RFC 6437), hop limit,
    // source; checksum and sequence; timestamp; authenticator (the rest of the packet). Nothing reads them but this.
    if ((packet[0]! & 0xf0) !== (t[0]! & 0xf0) || !same(packet, t, 4, 7) || !same(packet, t, DESTINATION_AT, mhAt + MH_CHECKSUM_OFFSET)
      || !same(packet, t, mhAt + BU_SEQUENCE_AT + 2, timestampAt) || !same(packet, t, timestampAt + 8, authAt)) return undefined;
    return { careOf: packet.subarray(SOURCE_AT, DESTINATION_AT), sequence: packet.readUInt16BE(mhAt + BU_SEQUENCE_AT), timestamp: packet.readBigUInt64BE(timestampAt) };
  }

  /** The MH of a matched packet. */
  mh(packet: Buffer): Buffer {
    return packet.subarray(this.bu.mhAt);
  }

  /** A matched packet's MH checksum holds. */
  checksumOk(packet: Buffer): boolean {
    return onesSum([this.mh(packet)], this.bu.pseudoSum) === 0xffff;
  }

  /** A matched packet's authenticator is its key's, over its care-of address and the home address (RFC 4285 §5.1; constant time). */
  authenticates(packet: Buffer, fields: PredictedFields, key: HmacSha1Key): boolean {
    const authAt = packet.length - MN_HA_AUTHENTICATOR_LENGTH;
    writeMnHaAuthenticator(key, fields.careOf, this.home, packet, this.bu.mhAt, authAt, expected, 0);
    let differ = 0;
    for (let i = 0; i < MN_HA_AUTHENTICATOR_LENGTH; i++) differ |= expected[i]! ^ packet[authAt + i]!;
    return differ === 0;
  }

  /**
   * The BA for a predicted BU: the last one to its care-of address with its
   * sequence number and timestamp, signed with key, its checksum: the IPv6
   * packet, and its MH.
   */
  answer(fields: PredictedFields, key: HmacSha1Key): { packet: Buffer; mh: Buffer } {
    const { mhAt, timestampAt, pseudoSum: sum } = this.ba;
    const packet = Buffer.from(this.ba.packet);
    const authAt = packet.length - MN_HA_AUTHENTICATOR_LENGTH;
    packet.set(fields.careOf, DESTINATION_AT);
    packet.writeUInt16BE(fields.sequence, mhAt + BA_SEQUENCE_AT);
    packet.writeBigUInt64BE(fields.timestamp, timestampAt);
    writeMnHaAuthenticator(key, fields.careOf, this.home, packet, mhAt, authAt, packet, authAt);
    const mh = packet.subarray(mhAt);
    mh.writeUInt16BE(0, MH_CHECKSUM_OFFSET);
    mh.writeUInt16BE(~onesSum([mh], sum) & 0xffff, MH_CHECKSUM_OFFSET);
    return { packet, mh };
  }
}

/** An authenticator computed (one at a time: the fast path is synchronous). */
const expected = new Uint8Array(MN_HA_AUTHENTICATOR_LENGTH);

/** Two addresses' 16 bytes alike (Buffer.equals, a call into C++, cost several times more). */
export const sameAddress = (a: Uint8Array, b: Uint8Array): boolean => same(a, b, 0, 16);

function same(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}
