/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef LIB_COMMON_H
#define LIB_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../anchor.h"

_Static_assert(sizeof(struct drop_counters) == DROP__MAX * sizeof(__u64),
	       "one drop counter per drop_reason");
_Static_assert(sizeof(struct event_counters) == EVENT__MAX * sizeof(__u64),
	       "one event counter per event");

#define IPPROTO_MH 135
#define IPV6_FLOWINFO_MASK bpf_htonl(0x0FFFFFFF)
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

#define TUNNEL_TTL 64          /* outer TTL / hop limit (RFC 2003 3.1, RFC 2473 6.3) */
#define ICMP_QUOTE_MAX 512     /* bytes of the offending packet quoted in an ICMP error */
#define TLV_TYPE_IPV4 1
#define TLV_TYPE_IPV6 2

#define ECN_MASK 3
#define ECN_NOT_ECT 0
#define ECN_ECT1 1
#define ECN_ECT0 2
#define ECN_CE 3

/* The DSMIPv6 TLV header (RFC 5555 4.1) */
struct tlvhdr {
	__u8 type;
	__u8 len;
	__be16 reserved;
};

static __always_inline int tunnel_is_udp(__u8 format)
{
	return format == TUNNEL_UDP4 || format == TUNNEL_UDP4_TLV;
}

static __always_inline int tunnel_outer_is_v6(__u8 format)
{
	return format == TUNNEL_IP6;
}

/* Bytes a tunnel format puts in front of the inner IP packet. */
static __always_inline int tunnel_overhead(__u8 format)
{
	switch (format) {
	case TUNNEL_IP6: return sizeof(struct ipv6hdr);
	case TUNNEL_IP4: return sizeof(struct iphdr);
	case TUNNEL_UDP4: return sizeof(struct iphdr) + sizeof(struct udphdr);
	case TUNNEL_UDP4_TLV: return sizeof(struct iphdr) + sizeof(struct udphdr) + sizeof(struct tlvhdr);
	}
	return -1;
}

typedef __u32 __attribute__((may_alias)) frame_word;
typedef __u16 __attribute__((may_alias)) frame_half;

/*
 * Writes a frame's Ethernet addresses in words and half-words: memcpy at an
 * alignment the compiler cannot know copies byte by byte, three times the
 * instructions on the hot path. dmac and smac are 2-byte aligned (as in
 * struct tunnel and struct dest_cache_entry); unaligned access is fine
 * where XDP runs.
 */
static __always_inline void write_macs(struct ethhdr *eth, const __u8 *dmac, const __u8 *smac)
{
	*(frame_word *)eth->h_dest = *(const frame_word *)dmac;
	*(frame_half *)(eth->h_dest + 4) = *(const frame_half *)(dmac + 4);
	*(frame_half *)eth->h_source = *(const frame_half *)smac;
	*(frame_word *)(eth->h_source + 2) = *(const frame_word *)(smac + 2);
}

static __always_inline int addr6_eq(const __be32 *a, const __be32 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
}

#endif
