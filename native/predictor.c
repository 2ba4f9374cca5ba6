/*
 * Binding Update prediction's byte work, in C: for a drain of captured
 * frames, one call finds each frame's template by the SPI ending it,
 * compares the frame with it outside the fields a BU may change, checks its
 * MH checksum and its MN-HA authenticator (RFC 4285 §5.1), and makes its BA
 * from the template's (care-of address, sequence number, timestamp,
 * authenticator, checksum). What the fields must satisfy beyond that
 * (timestamp, sequence number, the entry still the template's) is
 * HomeAgent.predictedUpdate()'s: nothing here changes with a BU, so a BU
 * the home agent then refuses leaves nothing to undo.
 *
 * Why C: with 100,000 nodes each template is a cache miss, and the
 * JavaScript doing this work spread a node's bytes over a dozen objects;
 * here a template is one allocation, read in order. HMAC-SHA1 is libcrypto's
 * compression function (SHA1_Update on whole blocks, the key's padded blocks
 * compressed once, as control/wire/auth/sha1.ts does).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "predictor.h"

/* OpenSSL's SHA_CTX (openssl/sha.h, a public layout): h0..h4 first. Declared here: libssl-dev is not needed to build. */
struct sha_ctx {
	uint32_t h[5];
	uint32_t nl, nh;
	uint32_t data[16];
	uint32_t num;
};
int SHA1_Update(struct sha_ctx *ctx, const void *data, size_t len);

enum {
	ETH_HLEN = 14,
	IPV6_HLEN = 40,
	SOURCE_AT = 8,
	DESTINATION_AT = 24,
	MH_CHECKSUM_AT = 4,
	BU_SEQUENCE_AT = 6,
	BA_SEQUENCE_AT = 8,
	AUTHENTICATOR_LEN = 12,
	/* an MN-HA option ending the MH: its SPI, then the authenticator */
	SPI_FROM_END = 4 + AUTHENTICATOR_LEN,
	BLOCK = 64,
	/* the longest BU or BA a template holds; longer ones take the general path */
	MAX_PACKET = 1280,
	IPPROTO_MH = 135,
};

/** One node's template: its last accepted BU and the BA that answered it (IPv6 packets), and what checking and answering need. */
struct template {
	uint32_t spi, generation;
	/* the HMAC key's compressed padded blocks: inner h0..h4, outer h0..h4 */
	uint32_t key[10];
	uint8_t home[16];
	uint16_t bu_len, bu_mh_at, bu_ts_at, ba_len, ba_mh_at, ba_ts_at;
	/* the MHs' pseudo-header sums (RFC 6275 §6.1.1): fixed, their addresses the home agent's and the home address */
	uint32_t bu_pseudo, ba_pseudo;
	uint8_t bytes[]; /* the BU, then the BA */
};

/** SPI to slot and template, open addressing (SPI 0 is reserved, RFC 4285 §4: it marks a free place). */
struct spi_place {
	uint32_t spi, slot;
	const struct template *t;
};

struct predictor {
	struct template **slots;
	uint32_t nslots;
	struct spi_place *places;
	uint32_t nplaces, used; /* nplaces a power of two */
};

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static uint32_t hash(uint32_t spi) { return spi * 0x9e3779b1u; }

struct predictor *predictor_new(void)
{
	return calloc(1, sizeof(struct predictor));
}

void predictor_free(struct predictor *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->nslots; i++)
		free(p->slots[i]);
	free(p->slots);
	free(p->places);
	free(p);
}

static struct spi_place *place_of(const struct predictor *p, uint32_t spi)
{
	if (!p->nplaces || !spi) /* (0 would find a free place) */
		return NULL;
	for (uint32_t i = hash(spi) & (p->nplaces - 1);; i = (i + 1) & (p->nplaces - 1)) {
		if (p->places[i].spi == spi)
			return &p->places[i];
		if (!p->places[i].spi)
			return NULL;
	}
}

static void place(struct predictor *p, uint32_t spi, uint32_t slot, const struct template *t)
{
	uint32_t i = hash(spi) & (p->nplaces - 1);
	while (p->places[i].spi && p->places[i].spi != spi)
		i = (i + 1) & (p->nplaces - 1);
	if (!p->places[i].spi)
		p->used++;
	p->places[i] = (struct spi_place){ spi, slot, t };
}

/* Removal by backward shift: the places after it that probed past it move up, no tombstones. */
static void unplace(struct predictor *p, struct spi_place *gone)
{
	uint32_t mask = p->nplaces - 1, i = gone - p->places;
	for (uint32_t j = (i + 1) & mask; p->places[j].spi; j = (j + 1) & mask) {
		uint32_t home = hash(p->places[j].spi) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) { /* its home is at or before i: it may fill i */
			p->places[i] = p->places[j];
			i = j;
		}
	}
	p->places[i] = (struct spi_place){ 0, 0, NULL };
	p->used--;
}

static int grow_places(struct predictor *p)
{
	uint32_t old = p->nplaces;
	struct spi_place *was = p->places;
	uint32_t n = old ? 2 * old : 1024;
	struct spi_place *places = calloc(n, sizeof(*places));
	if (!places)
		return -1;
	p->places = places;
	p->nplaces = n;
	p->used = 0;
	for (uint32_t i = 0; i < old; i++)
		if (was[i].spi)
			place(p, was[i].spi, was[i].slot, was[i].t);
	free(was);
	return 0;
}

static int grow_slots(struct predictor *p, uint32_t slot)
{
	uint32_t n = p->nslots ? p->nslots : 1024;
	while (n <= slot)
		n *= 2;
	struct template **slots = realloc(p->slots, n * sizeof(*slots));
	if (!slots)
		return -1;
	memset(slots + p->nslots, 0, (n - p->nslots) * sizeof(*slots));
	p->slots = slots;
	p->nslots = n;
	return 0;
}

/** Forgets a slot's template (its node has none now). */
void predictor_clear(struct predictor *p, uint32_t slot)
{
	if (slot >= p->nslots || !p->slots[slot])
		return;
	struct spi_place *at = place_of(p, p->slots[slot]->spi);
	if (at && at->slot == slot)
		unplace(p, at);
	free(p->slots[slot]);
	p->slots[slot] = NULL;
}

/** The one's-complement sum of len bytes, added to sum (not folded). */
static uint32_t ones_add(uint32_t sum, const uint8_t *b, uint32_t len)
{
	uint32_t i = 0;
	for (; i + 1 < len; i += 2)
		sum += be16(b + i);
	if (i < len)
		sum += (uint32_t)b[i] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t pseudo_sum(const uint8_t *src, const uint8_t *dst, uint32_t length)
{
	uint32_t sum = ones_add(ones_add(0, src, 16), dst, 16);
	return sum + (length >> 16) + (length & 0xffff) + IPPROTO_MH;
}

/* A packet whose MH starts at mh_at, its sequence number ends seq_end into it, its timestamp at ts_at, an MN-HA option ending it: within MAX_PACKET. */
static int laid_out(uint32_t len, uint32_t mh_at, uint32_t ts_at, uint32_t seq_end)
{
	return len <= MAX_PACKET && mh_at >= IPV6_HLEN && mh_at + seq_end <= ts_at && ts_at + 8 + SPI_FROM_END <= len;
}

/** Slots (binding ids) beyond this are refused: grow_slots() doubles a uint32_t. */
enum { MAX_SLOT = 1u << 24 };

/**
 * Sets a slot's template: the BU (mh_at: where its MH starts; ts_at: where
 * its timestamp is; the MH ends the packet with the MN-HA option) and its
 * BA alike, the home address, the key's ten state words. The layouts were
 * checked by the caller (BuTemplate.of()), and again here as far as the
 * byte work relies on them. -1: too long, not so laid out, or no memory.
 */
int predictor_set(struct predictor *p, uint32_t slot, uint32_t generation, uint32_t spi, const uint32_t *key, const uint8_t *home,
		  const uint8_t *bu, uint32_t bu_len, uint32_t bu_mh_at, uint32_t bu_ts_at,
		  const uint8_t *ba, uint32_t ba_len, uint32_t ba_mh_at, uint32_t ba_ts_at)
{
	if (!slot || slot >= MAX_SLOT || !spi || !laid_out(bu_len, bu_mh_at, bu_ts_at, BU_SEQUENCE_AT + 2)
	    || !laid_out(ba_len, ba_mh_at, ba_ts_at, BA_SEQUENCE_AT + 2))
		return -1;
	if (slot >= p->nslots && grow_slots(p, slot))
		return -1;
	if (2 * (p->used + 1) > p->nplaces && grow_places(p))
		return -1;
	struct template *t = malloc(sizeof(*t) + bu_len + ba_len);
	if (!t)
		return -1;
	predictor_clear(p, slot);
	struct spi_place *other = place_of(p, spi); /* another slot's template under this SPI: a profile that gave it up */
	if (other)
		predictor_clear(p, other->slot);
	*t = (struct template){
		.spi = spi, .generation = generation,
		.bu_len = bu_len, .bu_mh_at = bu_mh_at, .bu_ts_at = bu_ts_at, .ba_len = ba_len, .ba_mh_at = ba_mh_at, .ba_ts_at = ba_ts_at,
		.bu_pseudo = pseudo_sum(home, bu + DESTINATION_AT, bu_len - bu_mh_at),
		.ba_pseudo = pseudo_sum(ba + SOURCE_AT, home, ba_len - ba_mh_at),
	};
	memcpy(t->key, key, sizeof(t->key));
	memcpy(t->home, home, 16);
	memcpy(t->bytes, bu, bu_len);
	memcpy(t->bytes + bu_len, ba, ba_len);
	p->slots[slot] = t;
	place(p, spi, slot, t);
	return 0;
}

/** First(96, HMAC-SHA1(key, care-of | home | mh up to spi_end, its checksum zero)) into out. */
static void authenticator(const uint32_t *key, const uint8_t *care_of, const uint8_t *home, const uint8_t *mh, uint32_t spi_end, uint8_t *out)
{
	uint8_t message[32 + MAX_PACKET + 2 * BLOCK];
	uint32_t n = 32 + spi_end;
	memcpy(message, care_of, 16);
	memcpy(message + 16, home, 16);
	memcpy(message + 32, mh, spi_end);
	message[32 + MH_CHECKSUM_AT] = message[32 + MH_CHECKSUM_AT + 1] = 0;
	uint32_t total = (n + 9 + BLOCK - 1) / BLOCK * BLOCK;
	memset(message + n, 0, total - n);
	message[n] = 0x80;
	uint64_t bits = (uint64_t)(BLOCK + n) * 8; /* after the key's inner block */
	put32(message + total - 8, bits >> 32);
	put32(message + total - 4, (uint32_t)bits);

	struct sha_ctx ctx = { 0 };
	memcpy(ctx.h, key, 20);
	SHA1_Update(&ctx, message, total);
	uint8_t outer[BLOCK] = { 0 };
	for (int i = 0; i < 5; i++)
		put32(outer + 4 * i, ctx.h[i]);
	outer[20] = 0x80;
	put32(outer + BLOCK - 4, (BLOCK + 20) * 8);
	memcpy(ctx.h, key + 5, 20);
	SHA1_Update(&ctx, outer, BLOCK);
	for (int i = 0; i < AUTHENTICATOR_LEN; i++)
		out[i] = ctx.h[i / 4] >> (24 - 8 * (i % 4));
}

static int same(const uint8_t *a, const uint8_t *b, uint32_t from, uint32_t to)
{
	return to <= from || !memcmp(a + from, b + from, to - from);
}

/** Whether a packet is the predicted BU of the template its SPI names (found: its place, or NULL). */
static int matches(const struct spi_place *found, const uint8_t *packet, uint32_t len)
{
	const struct template *t = found ? found->t : NULL;
	if (!t || len != t->bu_len)
		return 0;
	const uint8_t *bu = t->bytes;
	uint32_t mh = t->bu_mh_at, ts = t->bu_ts_at, auth = len - AUTHENTICATOR_LEN;
	/* holes: traffic class and flow label (RFC 6437: each kernel labels flows its own way), hop limit, source;
	 * checksum and sequence number; timestamp; authenticator */
	if ((packet[0] & 0xf0) != (bu[0] & 0xf0) || !same(packet, bu, 4, 7) || !same(packet, bu, DESTINATION_AT, mh + MH_CHECKSUM_AT)
	    || !same(packet, bu, mh + BU_SEQUENCE_AT + 2, ts) || !same(packet, bu, ts + 8, auth))
		return 0;
	return memcmp(packet + SOURCE_AT, t->home, 16) != 0; /* from the home address: a deregistration */
}

/** The packet's MH checksum holds and its authenticator is its key's (constant time). */
static int authentic(const struct template *t, const uint8_t *packet, uint32_t len)
{
	const uint8_t *mh = packet + t->bu_mh_at;
	uint32_t mh_len = len - t->bu_mh_at;
	if (fold(ones_add(t->bu_pseudo, mh, mh_len)) != 0xffff)
		return 0;
	uint8_t expected[AUTHENTICATOR_LEN];
	authenticator(t->key, packet + SOURCE_AT, t->home, mh, mh_len - AUTHENTICATOR_LEN, expected);
	uint8_t differ = 0;
	for (int i = 0; i < AUTHENTICATOR_LEN; i++)
		differ |= expected[i] ^ packet[len - AUTHENTICATOR_LEN + i];
	return !differ;
}

/** The template's BA with the BU's care-of address, sequence number and timestamp, signed, its checksum: into out. */
static void answer(const struct template *t, const uint8_t *packet, uint8_t *out)
{
	const uint8_t *bu = packet;
	uint32_t len = t->ba_len, mh = t->ba_mh_at;
	memcpy(out, t->bytes + t->bu_len, len);
	memcpy(out + DESTINATION_AT, bu + SOURCE_AT, 16);
	memcpy(out + mh + BA_SEQUENCE_AT, bu + t->bu_mh_at + BU_SEQUENCE_AT, 2);
	memcpy(out + t->ba_ts_at, bu + t->bu_ts_at, 8);
	authenticator(t->key, bu + SOURCE_AT, t->home, out + mh, len - mh - AUTHENTICATOR_LEN, out + len - AUTHENTICATOR_LEN);
	put16(out + mh + MH_CHECKSUM_AT, 0);
	put16(out + mh + MH_CHECKSUM_AT, (uint16_t)~fold(ones_add(t->ba_pseudo, out + mh, len - mh)));
}

/**
 * Unix time in ms, rounded to the nearest, of an NTP timestamp: its era
 * resolved as control/wire/auth/replay.ts's ntpUnwrap() does (top bit set:
 * 1968–2036; clear: 2036–2104), as its fromNtp() computes it.
 */
static double unix_ms(uint64_t ntp)
{
	const int64_t ntp_unix_offset_s = 2208988800LL;
	int64_t seconds = (int64_t)(ntp >> 32) + (ntp >> 63 ? 0 : (int64_t)1 << 32) - ntp_unix_offset_s;
	uint64_t ms = ((ntp & 0xffffffffu) * 1000 + (1ull << 31)) >> 32;
	return (double)seconds * 1000 + (double)ms;
}

/** A frame's IPv6 packet and its length, if it is one (Ethernet, the packet within the frame); NULL if not. */
static const uint8_t *ipv6_packet(const uint8_t *frame, uint32_t frame_len, uint32_t *len)
{
	if (frame_len < ETH_HLEN + IPV6_HLEN || frame[12] != 0x86 || frame[13] != 0xdd)
		return NULL;
	*len = IPV6_HLEN + be16(frame + ETH_HLEN + 4);
	return ETH_HLEN + *len <= frame_len && *len >= IPV6_HLEN + SPI_FROM_END ? frame + ETH_HLEN : NULL;
}

static void prefetch_template(const struct template *t)
{
	const uint8_t *from = (const uint8_t *)t, *to = t->bytes + t->bu_len + t->ba_len;
	for (const uint8_t *line = from; line < to; line += 64)
		__builtin_prefetch(line);
}

/* Frames looked at together: their cache misses (with 100,000 nodes, each place and template is one) overlap. */
enum { GROUP = 32 };

/**
 * Checks n captured frames (Ethernet; frame k is frames[ends[k-1]..ends[k]),
 * ends[-1] being 0) against their nodes' templates: out[k] says what frame
 * k is, its BA written into bas from at on (room bytes in all; a BA that
 * does not fit is not predicted; ba_at counts from bas). Returns the number
 * predicted. In groups, three passes each: the SPIs' places fetched, then
 * their templates, then the work.
 */
uint32_t predictor_check(const struct predictor *p, const uint8_t *frames, const uint32_t *ends, uint32_t n, struct predicted *out, uint8_t *bas, uint32_t at, uint32_t room)
{
	uint32_t count = 0, used = at;
	for (uint32_t first = 0; first < n; first += GROUP) {
		uint32_t m = n - first < GROUP ? n - first : GROUP, len[GROUP];
		const uint8_t *packet[GROUP];
		const struct spi_place *found[GROUP];
		for (uint32_t k = 0; k < m; k++) {
			uint32_t start = first + k ? ends[first + k - 1] : 0;
			packet[k] = ipv6_packet(frames + start, ends[first + k] - start, &len[k]);
			if (packet[k] && p->nplaces)
				__builtin_prefetch(&p->places[hash(be32(packet[k] + len[k] - SPI_FROM_END)) & (p->nplaces - 1)]);
		}
		for (uint32_t k = 0; k < m; k++) {
			found[k] = packet[k] ? place_of(p, be32(packet[k] + len[k] - SPI_FROM_END)) : NULL;
			if (found[k])
				prefetch_template(found[k]->t);
		}
		for (uint32_t k = 0; k < m; k++) {
			struct predicted *o = &out[first + k];
			*o = (struct predicted){ 0 };
			const struct template *t = found[k] ? found[k]->t : NULL;
			if (!matches(found[k], packet[k], len[k]) || used + t->ba_len > room || !authentic(t, packet[k], len[k]))
				continue;
			answer(t, packet[k], bas + used);
			const uint8_t *ts = packet[k] + t->bu_ts_at;
			*o = (struct predicted){
				.slot = found[k]->slot, .generation = t->generation, .ba_at = used, .ba_len = t->ba_len,
				.sequence = be16(packet[k] + t->bu_mh_at + BU_SEQUENCE_AT), .timestamp = (uint64_t)be32(ts) << 32 | be32(ts + 4),
			};
			o->timestamp_ms = unix_ms(o->timestamp);
			used += t->ba_len;
			count++;
		}
	}
	return count;
}
