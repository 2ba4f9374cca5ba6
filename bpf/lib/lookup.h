/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which binding an address belongs to: exact home address first, then prefixes. */
#ifndef LIB_LOOKUP_H
#define LIB_LOOKUP_H

#include "maps.h"

static __always_inline struct tunnel *tunnel_of(const __u32 *binding_id)
{
	return binding_id ? bpf_map_lookup_elem(&tunnels, binding_id) : 0;
}

static __always_inline struct tunnel *binding_of4(__be32 addr)
{
	struct prefix4_key key = { .prefixlen = 32, .addr = addr };
	__u32 *id = bpf_map_lookup_elem(&home4, &addr);

	return tunnel_of(id ? id : bpf_map_lookup_elem(&prefix4, &key));
}

static __always_inline struct tunnel *binding_of6(const struct in6_addr *addr)
{
	struct prefix6_key key = { .prefixlen = 128 };
	__u32 *id = bpf_map_lookup_elem(&home6, addr);

	if (id)
		return tunnel_of(id);
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	return tunnel_of(bpf_map_lookup_elem(&prefix6, &key));
}

/*
 * A link-local address (fe80::/10) means something only on its own link: a
 * node's (registered with L, RFC 6275 §10.3.1) is tunnelled for packets on
 * a home link, and on any other link is another host's (RFC 4291 §2.5.6).
 */
static __always_inline int link_local_off_home_link(const struct in6_addr *a, __u32 ifindex)
{
	return a->in6_u.u6_addr8[0] == 0xfe && (a->in6_u.u6_addr8[1] & 0xc0) == 0x80 &&
	       !bpf_map_lookup_elem(&home_links, &ifindex);
}

/* Fibonacci hashing of an address (IPv4: a[0] alone is read) to `bits` bits. */
static __always_inline __u32 addr_slot(const __be32 *a, __u8 family, int bits)
{
	return ((family == 4 ? a[0] : a[0] ^ a[1] ^ a[2] ^ a[3]) * 2654435761u) >> (32 - bits);
}

/*
 * The per-CPU caches below hold answers for one generation of the maps
 * (anchor_config.generation, bumped on every change; 0: caches off).
 */

/*
 * Is this address (and UDP port, 0 for IP-in-IP) one of our endpoints?
 * Through this CPU's cache, compared with the packet's own bytes: the key
 * is only built on a miss.
 */
static __always_inline __u32 endpoint_flags(const __be32 *addr, __u8 family, __be16 port, __u32 generation)
{
	struct endpoint_key key = { .family = family, .port = port };
	__u32 slot, *flags;
	struct endpoint_cache_entry *e;

	slot = addr_slot(addr, family, 8) ^ (port & (ENDPOINT_CACHE_SLOTS - 1));
	e = bpf_map_lookup_elem(&endpoint_cache, &slot);
	if (e && e->generation == generation && e->key.family == family && e->key.port == port &&
	    (family == 4 ? e->key.addr.v4 == addr[0] : addr6_eq(e->key.addr.v6, addr)))
		return e->flags;
	if (family == 4)
		key.addr.v4 = addr[0];
	else
		__builtin_memcpy(key.addr.v6, addr, sizeof(key.addr.v6));
	flags = bpf_map_lookup_elem(&endpoints, &key);
	if (e && generation) {
		e->key = key;
		e->flags = flags ? *flags : 0;
		e->generation = generation;
	}
	return flags ? *flags : 0;
}

/* Where a tunnel's packets arrive here: its local address and, in the UDP forms, port. */
static __always_inline __u32 tunnel_local_flags(const struct tunnel *t, __u32 generation)
{
	return endpoint_flags(t->local.v6, tunnel_outer_is_v6(t->format) ? 6 : 4,
			      tunnel_is_udp(t->format) ? t->local_port : 0, generation);
}

/*
 * The binding of an address, through this CPU's binding cache. A hit gives
 * the cached copy; a miss looks the maps up and remembers the answer.
 * nexthop: the caller will send into the tunnel, so its next hop must be
 * learnt, on the authoritative entry (which keeps it across generations),
 * before a copy serves it: a copy without one (cached by decapsulation,
 * which needs none) is passed over until then. *local_flags (if asked
 * for): the endpoint flags of the binding's local end, as cached; 0 when
 * the answer did not come from the cache.
 */
static __always_inline struct tunnel *binding_of(const __be32 *addr, __u8 family, __u32 generation,
						 int nexthop, __u32 *local_flags)
{
	__u32 slot = addr_slot(addr, family, 12);
	struct binding_cache_entry *e = bpf_map_lookup_elem(&binding_cache, &slot);
	struct tunnel *t;

	if (e && e->generation == generation && e->family == family && addr6_eq(e->addr, addr) &&
	    !(nexthop && e->found && !e->tunnel.nh_valid)) {
		if (local_flags)
			*local_flags = e->local_flags;
		return e->found ? &e->tunnel : 0;
	}
	t = family == 4 ? binding_of4(addr[0]) : binding_of6((const struct in6_addr *)addr);
	if (!e || !generation || (nexthop && t && !t->nh_valid))
		return t; /* the caller learns the next hop on t; the next packet caches it */
	__builtin_memcpy(e->addr, addr, 16);
	e->family = family;
	e->found = !!t;
	e->local_flags = t ? tunnel_local_flags(t, generation) : 0;
	if (t) {
		/* Another CPU may be learning t's next hop (tunnel_nexthop: the
		 * fields, then the flag): the flag is read first, so a copy
		 * never says valid over fields it did not see written. */
		__u8 nh_valid = *(volatile __u8 *)&t->nh_valid;

		asm volatile("" ::: "memory");
		__builtin_memcpy(&e->tunnel, t, sizeof(*t));
		e->tunnel.nh_valid = nh_valid;
	}
	e->generation = generation;
	return t;
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
