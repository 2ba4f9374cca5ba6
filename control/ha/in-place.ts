/**
 * The fields of a binding cache entry that a predicted BU rewrites, kept in
 * place: the last timestamp, and the care-of address with the tunnel's
 * remote end and the BAs' destination, which are the same address.
 *
 * Why: a BU's new timestamp (a bigint) and a move's new care-of address (a
 * string), stored in an entry of the old generation, are each an object the
 * next scavenge must evacuate and a field pointing at it from an old page.
 * With 100,000 entries that cost ~0.5-1 µs a BU in the pause (strings,
 * bigints and heap numbers evacuate far slower than plain objects here), so
 * a scavenge after ~15,000 moves stopped the daemon for 10-20 ms, and every
 * BU arriving meanwhile waited. Kept as numbers in fields of their own
 * (doubles, which V8 overwrites where they are), a BU leaves nothing behind.
 *
 * The fields read and write as before (accessors, enumerable); what backs
 * them is in symbol-keyed fields no copy, comparison or JSON sees. A read
 * makes a string or bigint that dies young. A copy ({...e}) is a plain
 * entry. Only entries register() makes are kept so: the ones predicted BUs
 * update (HomeAgent.predictedUpdate()).
 */
import { REMOTE_BYTES, type Tunnel } from '../dataplane/dataplane.js';
import { formatAddr, writeAddr } from '../dataplane/layout.js';
import { ntpAfterHalves } from '../wire/auth/replay.js';
import type { BindingCacheEntry, ReplyRoute } from './home-agent.js';

/** A timestamp's halves (NaN: none yet); a class may declare them (NodeState). */
export const STAMP_HIGH = Symbol('lastTimestamp >> 32');
export const STAMP_LOW = Symbol('lastTimestamp & 0xffffffff');
/**
 * The care-of address: its family (4, 6) and four 32-bit words, big-endian
 * (an IPv4 address in the first), as int32: small integers, held in the
 * entry itself (a double is a box of its own, one more cache miss a read).
 */
const FAMILY = Symbol('care-of family');
const W0 = Symbol('care-of word 0'), W1 = Symbol('care-of word 1'), W2 = Symbol('care-of word 2'), W3 = Symbol('care-of word 3');
/** On a tunnel or route whose address is its entry's care-of address: that entry. */
const HOLDER = Symbol('entry holding the address');

export interface Stamped { [STAMP_HIGH]: number; [STAMP_LOW]: number }
export interface CareOfHolder { [FAMILY]: 4 | 6; [W0]: number; [W1]: number; [W2]: number; [W3]: number }
type InPlaceEntry = BindingCacheEntry & Stamped & Partial<CareOfHolder>;

const hidden = (value: unknown): PropertyDescriptor => ({ value, writable: true, enumerable: false, configurable: true });
const accessor = <T>(get: (this: T) => unknown, set: (this: T, v: never) => void): PropertyDescriptor => ({ get, set, enumerable: true, configurable: true });

export function readStamp(o: Stamped): bigint | undefined {
  return Number.isNaN(o[STAMP_HIGH]) ? undefined : (BigInt(o[STAMP_HIGH]) << 32n) | BigInt(o[STAMP_LOW]);
}

const halves = (t: bigint): readonly [number, number] => [Number(t >> 32n), Number(BigInt.asUintN(32, t))];

export function writeStamp(o: Stamped, t: bigint): void {
  setStampHalves(o, ...halves(t));
}

export const isStamped = (o: object): o is Stamped => STAMP_HIGH in o;

export function setStampHalves(o: Stamped, high: number, low: number): void {
  o[STAMP_HIGH] = high;
  o[STAMP_LOW] = low;
}

/** The timestamp of these halves is later than o's, or o has none (ntpAfter(): no bigint made). */
export const laterThanStamp = (high: number, low: number, o: Stamped): boolean => Number.isNaN(o[STAMP_HIGH]) || ntpAfterHalves(high, low, o[STAMP_HIGH], o[STAMP_LOW]);

/** o (a node) takes e's timestamp if it is later: the newest its entries held. */
export function raiseStamp(o: Stamped, e: BindingCacheEntry): void {
  if (!isStamped(e)) {
    const [high, low] = halves(e.lastTimestamp);
    if (laterThanStamp(high, low, o)) setStampHalves(o, high, low);
  } else if (laterThanStamp(e[STAMP_HIGH], e[STAMP_LOW], o)) { // (with every predicted BU: no pair made)
    setStampHalves(o, e[STAMP_HIGH], e[STAMP_LOW]);
  }
}

const scratch = new Uint8Array(16);
/** The big-endian 32-bit word at b[k..k+3], unsigned. */
const word = (b: Uint8Array, k: number) => ((b[k]! << 24) >>> 0) + (b[k + 1]! << 16) + (b[k + 2]! << 8) + b[k + 3]!;

function readCareOf(h: CareOfHolder): string {
  copyCareOf(h, scratch, 0);
  return formatAddr(scratch, h[FAMILY]);
}

/** The care-of address from its bytes (4 or 16 of them from `at`). */
export function setCareOfBytes(h: CareOfHolder, bytes: Uint8Array, at: number, family: 4 | 6): void {
  h[FAMILY] = family;
  h[W0] = word(bytes, at) | 0;
  h[W1] = family === 4 ? 0 : word(bytes, at + 4) | 0;
  h[W2] = family === 4 ? 0 : word(bytes, at + 8) | 0;
  h[W3] = family === 4 ? 0 : word(bytes, at + 12) | 0;
}

/** The in-place care-of address is the IPv6 address at bytes[at..] (a BU from another moves its node). */
export function isCareOf(h: CareOfHolder, bytes: Uint8Array, at: number): boolean {
  return h[FAMILY] === 6 && (word(bytes, at) | 0) === h[W0] && (word(bytes, at + 4) | 0) === h[W1]
    && (word(bytes, at + 8) | 0) === h[W2] && (word(bytes, at + 12) | 0) === h[W3];
}

/** The in-place IPv6 care-of address's words (int32, as held): what undoing a move puts back with setCareOfWords(). */
export const careOfWord = (h: CareOfHolder, k: 0 | 1 | 2 | 3): number => (k === 0 ? h[W0] : k === 1 ? h[W1] : k === 2 ? h[W2] : h[W3]);

export function setCareOfWords(h: CareOfHolder, w0: number, w1: number, w2: number, w3: number): void {
  h[FAMILY] = 6;
  h[W0] = w0;
  h[W1] = w1;
  h[W2] = w2;
  h[W3] = w3;
}

/** The in-place care-of address's bytes into `into` at `at`; their count. */
export function copyCareOf(h: CareOfHolder, into: Uint8Array, at: number): 4 | 16 {
  putWord(into, at, h[W0]);
  if (h[FAMILY] === 4) return 4;
  putWord(into, at + 4, h[W1]);
  putWord(into, at + 8, h[W2]);
  putWord(into, at + 12, h[W3]);
  return 16;
}

/** A 32-bit word (unsigned or int32 alike) into into[at..at+3], big-endian. */
function putWord(into: Uint8Array, at: number, w: number): void {
  into[at] = w >>> 24;
  into[at + 1] = (w >>> 16) & 0xff;
  into[at + 2] = (w >>> 8) & 0xff;
  into[at + 3] = w & 0xff;
}

function writeCareOfText(h: CareOfHolder, text: string): void {
  setCareOfBytes(h, scratch, 0, writeAddr(text, scratch, 0) === 4 ? 4 : 6);
}

const entryCareOf = accessor<CareOfHolder>(function () { return readCareOf(this); }, function (v: string) { writeCareOfText(this, v); });
/** A tunnel's remote end, a route's destination: its holder's care-of address. */
const heldCareOf = accessor<{ [HOLDER]: CareOfHolder }>(function () { return readCareOf(this[HOLDER]); }, function (v: string) { writeCareOfText(this[HOLDER], v); });
/** The data plane writes a tunnel's remote end so (REMOTE_BYTES): its holder's care-of address, copied. */
function heldCareOfBytes(this: { [HOLDER]: CareOfHolder }, into: Uint8Array, at: number): void {
  copyCareOf(this[HOLDER], into, at);
}
const entryStamp = accessor<Stamped>(function () { return readStamp(this); }, function (t: bigint) { writeStamp(this, t); });

/**
 * The entry register() made, its timestamp kept in place, and its care-of
 * address too when that is also its tunnel's remote end and its BAs'
 * destination (no NAT between: the BUs a prediction answers). Its tunnel and
 * route are then copies reading the entry's address, the binding's tunnel
 * that same copy.
 */
export function inPlaceEntry(fields: Omit<BindingCacheEntry, 'lastTimestamp'>, lastTimestamp: bigint): BindingCacheEntry {
  const { careOf, tunnel, route, ...rest } = fields;
  const bound = tunnel.remote === careOf && route.dst === careOf;
  const e = Object.defineProperties(rest, { [STAMP_HIGH]: hidden(NaN), [STAMP_LOW]: hidden(NaN), lastTimestamp: entryStamp }) as InPlaceEntry;
  writeStamp(e, lastTimestamp);
  if (!bound) return Object.assign(e, { careOf, tunnel, route });
  Object.defineProperties(e, { [FAMILY]: hidden(6), [W0]: hidden(0), [W1]: hidden(0), [W2]: hidden(0), [W3]: hidden(0), careOf: entryCareOf });
  writeCareOfText(e as InPlaceEntry & CareOfHolder, careOf);
  const { remote: _remote, ...tunnelRest } = tunnel;
  const { dst: _dst, ...routeRest } = route;
  e.tunnel = Object.defineProperties(tunnelRest, { [HOLDER]: hidden(e), remote: heldCareOf, [REMOTE_BYTES]: hidden(heldCareOfBytes) }) as Tunnel;
  e.route = Object.defineProperties(routeRest, { [HOLDER]: hidden(e), dst: heldCareOf }) as ReplyRoute;
  e.binding.tunnel = e.tunnel;
  return e;
}

/** A copy of an entry with changes, kept in place if it was: a spread copy ({...e}) is plain, which no predicted BU updates. */
export function copyEntry(e: BindingCacheEntry, changes: Partial<BindingCacheEntry>): BindingCacheEntry {
  const fields = { ...e, ...changes };
  if (!isStamped(e)) return fields;
  const { lastTimestamp, ...rest } = fields;
  return inPlaceEntry(rest, lastTimestamp);
}

/** The entry's care-of address is kept in place (inPlaceEntry()): its tunnel's remote end and its route's destination are it, always. */
export const careOfInPlace = (e: BindingCacheEntry): e is BindingCacheEntry & Stamped & CareOfHolder => FAMILY in e; // (and stamped, as every entry inPlaceEntry() makes)
