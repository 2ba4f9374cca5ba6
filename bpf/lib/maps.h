/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the anchor object, in one place. Pinned by the control plane. */
#ifndef LIB_MAPS_H
#define LIB_MAPS_H

#include "common.h"

/*
 * The hash maps are not preallocated: a preallocated map hands a replaced
 * element to the next update at once, so a packet on another CPU still
 * reading it could see another binding's next hop (learning replaces
 * them). Without preallocation an element is freed after an RCU
 * grace period, when no program can hold it any more.
 */

/*
 * Home addresses and prefixes name their binding by id; its tunnel is in
 * `tunnels`, once. A move (a new care-of address) is then one write to
 * memory, however many addresses and prefixes the binding has, and every
 * one of them switches to the new tunnel at once.
 */

/* Home addresses: the exact-match hot path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_HOME_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __be32);
	__type(value, __u32); /* binding id */
} home4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_HOME_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct in6_addr);
	__type(value, __u32); /* binding id */
} home6 SEC(".maps");

/* Mobile network prefixes and IPv4 home prefixes: longest-prefix match. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct prefix4_key);
	__type(value, __u32); /* binding id */
} prefix4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct prefix6_key);
	__type(value, __u32); /* binding id */
} prefix6 SEC(".maps");

/* Each binding's tunnel, by binding id: the control plane writes it through
 * the memory mapping (see struct tunnel_slot). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BINDINGS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32); /* binding id */
	__type(value, struct tunnel_slot);
} tunnels SEC(".maps");

/* Next hops learnt, by binding id (struct nexthop). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_BINDINGS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* binding id */
	__type(value, struct nexthop);
} nexthops SEC(".maps");

/* Our own addresses (and UDP ports) where tunnels and signalling end. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENDPOINTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct endpoint_key);
	__type(value, __u32); /* enum endpoint_flags */
} endpoints SEC(".maps");

/* UDP ports some endpoint listens on (1) or not (0): most UDP traffic is
 * told apart here, by an inlined array read, before the endpoints hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} endpoint_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct anchor_config);
} config SEC(".maps");

/* Interfaces on a home link, where away nodes' addresses are proxied. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_HOME_LINKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* ifindex */
	__type(value, struct home_link);
} home_links SEC(".maps");

/* Per CPU: written only by the CPU that reads it, so never seen half-written. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BINDING_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct binding_cache_entry);
} binding_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ENDPOINT_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct endpoint_cache_entry);
} endpoint_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DEST_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct dest_cache_entry);
} dest_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_BINDINGS);
	__type(key, __u32);
	__type(value, struct binding_counters);
} binding_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_counters);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event_counters);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct icmp_budget);
} icmp_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} signals SEC(".maps");

static __always_inline void count_drop(enum drop_reason reason)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&drops, &zero);

	if (c && reason < DROP__MAX)
		c[reason]++;
}

static __always_inline void count_event(enum event ev)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&events, &zero);

	if (c && ev < EVENT__MAX)
		c[ev]++;
}

static __always_inline struct anchor_config *get_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&config, &zero);
}

#endif
