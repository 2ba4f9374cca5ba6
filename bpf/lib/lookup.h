/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which binding an address belongs to: exact home address first, then prefixes. */
#ifndef LIB_LOOKUP_H
#define LIB_LOOKUP_H

#include "maps.h"

static __always_inline struct tunnel *binding_of4(__be32 addr)
{
	struct prefix4_key key = { .prefixlen = 32, .addr = addr };
	struct tunnel *t = bpf_map_lookup_elem(&home4, &addr);

	return t ? t : bpf_map_lookup_elem(&prefix4, &key);
}

static __always_inline struct tunnel *binding_of6(const struct in6_addr *addr)
{
	struct prefix6_key key = { .prefixlen = 128 };
	struct tunnel *t = bpf_map_lookup_elem(&home6, addr);

	if (t)
		return t;
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	return bpf_map_lookup_elem(&prefix6, &key);
}

/* The generation the per-CPU caches are valid for (anchor_config.generation; 0: caches off). */
static __always_inline __u32 cache_generation(void)
{
	struct anchor_config *cfg = get_config();

	return cfg ? cfg->generation : 0;
}

/* Fibonacci hashing of a 16-byte address (IPv4 in the first word) to `bits` bits. */
static __always_inline __u32 addr_slot(const __be32 *a, int bits)
{
	return ((a[0] ^ a[1] ^ a[2] ^ a[3]) * 2654435761u) >> (32 - bits);
}

/*
 * The binding of an address, through this CPU's binding cache. A hit gives
 * the cached copy (its next hop learnt, so nothing writes to it); a miss
 * looks the maps up and remembers the answer.
 */
static __always_inline struct tunnel *binding_of(const __be32 *addr, __u8 family)
{
	__u32 generation = cache_generation();
	__u32 slot = addr_slot(addr, 12);
	struct binding_cache_entry *e = bpf_map_lookup_elem(&binding_cache, &slot);
	struct tunnel *t;

	if (e && e->generation == generation && e->family == family && addr6_eq(e->addr, addr))
		return e->found ? &e->tunnel : 0;
	t = family == 4 ? binding_of4(addr[0]) : binding_of6((const struct in6_addr *)addr);
	if (!e || !generation || (t && !t->nh_valid))
		return t; /* learn the next hop on the authoritative entry first */
	__builtin_memcpy(e->addr, addr, 16);
	e->family = family;
	e->found = !!t;
	if (t)
		__builtin_memcpy(&e->tunnel, t, sizeof(*t));
	e->generation = generation;
	return t;
}

static __always_inline int endpoint_key_eq(const struct endpoint_key *a, const struct endpoint_key *b)
{
	return addr6_eq(a->addr.v6, b->addr.v6) && a->family == b->family && a->port == b->port;
}

/* Is this address (and UDP port, 0 for IP-in-IP) one of our endpoints? Through this CPU's cache. */
static __always_inline __u32 endpoint_flags(const void *addr, __u8 family, __be16 port)
{
	struct endpoint_key key = { .family = family, .port = port };
	__u32 generation = cache_generation();
	__u32 slot, *flags;
	struct endpoint_cache_entry *e;

	if (family == 4)
		key.addr.v4 = *(const __be32 *)addr;
	else
		__builtin_memcpy(key.addr.v6, addr, sizeof(key.addr.v6));
	slot = addr_slot(key.addr.v6, 8) ^ (port & (ENDPOINT_CACHE_SLOTS - 1));
	e = bpf_map_lookup_elem(&endpoint_cache, &slot);
	if (e && e->generation == generation && endpoint_key_eq(&e->key, &key))
		return e->flags;
	flags = bpf_map_lookup_elem(&endpoints, &key);
	if (e && generation) {
		e->key = key;
		e->flags = flags ? *flags : 0;
		e->generation = generation;
	}
	return flags ? *flags : 0;
}

static __always_inline void count_binding(const struct tunnel *t, int decap, __u64 bytes)
{
	struct binding_counters *c = bpf_map_lookup_elem(&binding_counters, &t->binding_id);

	if (!c)
		return;
	if (decap) {
		c->decap_packets++;
		c->decap_bytes += bytes;
	} else {
		c->encap_packets++;
		c->encap_bytes += bytes;
	}
}

#endif
