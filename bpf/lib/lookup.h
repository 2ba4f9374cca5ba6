/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which binding an address belongs to: exact home address first, then prefixes. */
#ifndef LIB_LOOKUP_H
#define LIB_LOOKUP_H

#include "maps.h"

/* The binding id of an address: its exact home address entry, else its longest prefix; 0 if none. */
static __always_inline __u32 *binding_id_of4(__be32 addr)
{
	struct prefix4_key key = { .prefixlen = 32, .addr = addr };
	__u32 *id = bpf_map_lookup_elem(&home4, &addr);

	return id ? id : bpf_map_lookup_elem(&prefix4, &key);
}

static __always_inline __u32 *binding_id_of6(const struct in6_addr *addr)
{
	struct prefix6_key key = { .prefixlen = 128 };
	__u32 *id = bpf_map_lookup_elem(&home6, addr);

	if (id)
		return id;
	__builtin_memcpy(key.addr, addr, sizeof(key.addr));
	return bpf_map_lookup_elem(&prefix6, &key);
}

#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))
#define TUNNEL_COPY_TRIES 4

/*
 * A whole copy of binding id's tunnel into *dst: the slot's copy in use,
 * read between two reads of the same seq (struct tunnel_slot). A try fails
 * only if a write completed during it. x86-64 keeps loads in order; the
 * compiler barriers keep the program's. 1 if copied, 0 if the slot is
 * empty, -1 if every try failed (counted).
 */
static __always_inline int tunnel_copy(struct tunnel *dst, __u32 id)
{
	struct tunnel_slot *slot = bpf_map_lookup_elem(&tunnels, &id);

	if (!slot)
		return 0;
	for (int i = 0; i < TUNNEL_COPY_TRIES; i++) {
		__u32 seq = READ_ONCE_U32(slot->seq);

		asm volatile("" ::: "memory");
		__builtin_memcpy(dst, &slot->copy[seq & 1], sizeof(*dst));
		asm volatile("" ::: "memory");
		if (READ_ONCE_U32(slot->seq) == seq) {
			dst->seq = seq;
			return dst->format != 0;
		}
	}
	count_event(EVENT_TUNNEL_BUSY);
	return -1;
}

/* Is this copy of a tunnel still what its slot holds? */
static __always_inline int tunnel_current(const struct tunnel *t)
{
	struct tunnel_slot *slot = bpf_map_lookup_elem(&tunnels, &t->binding_id);

	return slot && READ_ONCE_U32(slot->seq) == t->seq;
}

/* The copy's next hop from `nexthops`, if one was learnt for this version of its tunnel. */
static __always_inline void nexthop_fill(struct tunnel *t)
{
	struct nexthop *nh = bpf_map_lookup_elem(&nexthops, &t->binding_id);

	t->nh_valid = nh && nh->seq == t->seq;
	if (!t->nh_valid)
		return;
	t->nh_ifindex = nh->ifindex;
	t->nh_mtu = nh->mtu;
	__builtin_memcpy(t->nh_smac, nh->smac, 6);
	__builtin_memcpy(t->nh_dmac, nh->dmac, 6);
}

/* A next hop learnt for this copy's tunnel, kept in it and told to every CPU through `nexthops`. */
static __always_inline void nexthop_learnt(struct tunnel *t, __u32 ifindex, __u16 mtu, const __u8 *smac, const __u8 *dmac)
{
	struct nexthop nh = { .seq = t->seq, .ifindex = ifindex, .mtu = mtu };

	__builtin_memcpy(nh.smac, smac, 6);
	__builtin_memcpy(nh.dmac, dmac, 6);
	t->nh_ifindex = ifindex;
	t->nh_mtu = mtu;
	__builtin_memcpy(t->nh_smac, smac, 6);
	__builtin_memcpy(t->nh_dmac, dmac, 6);
	t->nh_valid = 1;
	bpf_map_update_elem(&nexthops, &t->binding_id, &nh, BPF_ANY);
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
 * The binding of an address, as a copy of its tunnel in this CPU's binding
 * cache: a hit (same generation, the tunnel's slot unchanged since) gives
 * it at once; a miss looks the maps up and copies the slot, with the next
 * hop learnt for it if there is one. nexthop: the caller will send into
 * the tunnel, so a hit must have its next hop (else the maps are looked up
 * again); without one the caller learns it (nexthop_learnt()). The copy
 * stands until this CPU's next lookup of an address in the same cache
 * slot. *local_flags (if asked for): the endpoint flags of the binding's
 * local end, as cached; left alone when the answer did not come from the
 * cache.
 */
static __always_inline struct tunnel *binding_of(const __be32 *addr, __u8 family, __u32 generation,
						 int nexthop, __u32 *local_flags)
{
	__u32 slot = addr_slot(addr, family, 12), *id;
	struct binding_cache_entry *e = bpf_map_lookup_elem(&binding_cache, &slot);
	int copied;

	if (!e)
		return 0;
	if (generation && e->generation == generation && e->family == family && addr6_eq(e->addr, addr) &&
	    (!e->found || (tunnel_current(&e->tunnel) && !(nexthop && !e->tunnel.nh_valid)))) {
		if (local_flags)
			*local_flags = e->local_flags;
		return e->found ? &e->tunnel : 0;
	}
	id = family == 4 ? binding_id_of4(addr[0]) : binding_id_of6((const struct in6_addr *)addr);
	__builtin_memcpy(e->addr, addr, 16);
	e->family = family;
	copied = id ? tunnel_copy(&e->tunnel, *id) : 0;
	e->found = copied > 0;
	if (e->found)
		nexthop_fill(&e->tunnel);
	e->local_flags = e->found ? tunnel_local_flags(&e->tunnel, generation) : 0;
	e->generation = copied < 0 ? 0 : generation; /* a busy slot's answer is for this packet only */
	return e->found ? &e->tunnel : 0;
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
