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

static __always_inline __u32 endpoint_flags(const void *addr, __u8 family, __be16 port)
{
	struct endpoint_key key = { .family = family, .port = port };
	__u32 *flags;

	if (family == 4)
		key.addr.v4 = *(const __be32 *)addr;
	else
		__builtin_memcpy(key.addr.v6, addr, sizeof(key.addr.v6));
	flags = bpf_map_lookup_elem(&endpoints, &key);
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
