/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header parsing: every read is bounds-checked against the end of the frame. */
#ifndef LIB_PARSE_H
#define LIB_PARSE_H

#include "common.h"

#define IPV6_MAX_EXTHDRS 4

/* A validated IP header at a known offset of the frame. */
struct ip_info {
	__u8 family;     /* 4 or 6 */
	__u8 proto;      /* upper-layer protocol (IPv6: after skipped extension headers) */
	__u16 hlen;      /* IPv4 header length, or IPv6 header plus extension headers */
	__u16 len;       /* whole packet: IPv4 total length, IPv6 payload + 40 */
	__u8 tos;        /* IPv4 TOS or IPv6 traffic class (DSCP and ECN) */
	__u8 ttl;
	__u16 frag;      /* IPv4: fragment offset and MF; IPv6: 1 if a fragment header was seen */
	__u8 df;         /* may not be fragmented on the way: IPv4 DF, or IPv6 */
};

/* Returns 0 if a whole IPv4 header (and the packet it announces) fits before data_end. */
static __always_inline int parse_ipv4(struct iphdr *iph, void *data_end, struct ip_info *ip)
{
	__u16 hlen, len;

	if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
		return -1;
	hlen = iph->ihl * 4;
	len = bpf_ntohs(iph->tot_len);
	if (len < hlen || (void *)iph + len > data_end)
		return -1;
	ip->family = 4;
	ip->proto = iph->protocol;
	ip->hlen = hlen;
	ip->len = len;
	ip->tos = iph->tos;
	ip->ttl = iph->ttl;
	ip->frag = bpf_ntohs(iph->frag_off) & (IP_MF | IP_OFFSET);
	ip->df = !!(bpf_ntohs(iph->frag_off) & IP_DF);
	return 0;
}

static __always_inline __u8 ipv6_tclass(const struct ipv6hdr *ip6h)
{
	return (ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4);
}

/* Returns 0 if the fixed IPv6 header (and the packet it announces) fits. */
static __always_inline int parse_ipv6(struct ipv6hdr *ip6h, void *data_end, struct ip_info *ip)
{
	__u32 len; /* 32 bits: a payload length over 65495 plus the header would wrap 16 */

	if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
		return -1;
	len = bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h);
	if ((void *)ip6h + len > data_end)
		return -1;
	ip->family = 6;
	ip->proto = ip6h->nexthdr;
	ip->hlen = sizeof(*ip6h);
	ip->len = len;
	ip->tos = ipv6_tclass(ip6h);
	ip->ttl = ip6h->hop_limit;
	ip->frag = 0;
	ip->df = 1;
	return 0;
}

static __always_inline int ipv6_is_exthdr(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS;
}

/*
 * Walks Hop-by-Hop, Routing and Destination Options headers (a Mobility
 * Header may sit behind a Home Address option or a type 2 routing header),
 * leaving ip->proto and ip->hlen at the upper layer. A fragment header stops
 * the walk and is flagged. Returns -1 if a header is truncated.
 */
static __always_inline int ipv6_skip_exthdrs(struct ipv6hdr *ip6h, void *data_end, struct ip_info *ip)
{
#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXTHDRS; i++) {
		__u8 *opt = (__u8 *)ip6h + ip->hlen;

		if (ip->proto == IPPROTO_FRAGMENT) {
			ip->frag = 1;
			return 0;
		}
		if (!ipv6_is_exthdr(ip->proto))
			return 0;
		if ((void *)(opt + 2) > data_end)
			return -1;
		ip->proto = opt[0];
		ip->hlen += (opt[1] + 1) * 8;
		if (ip->hlen > ip->len)
			return -1;
	}
	return ipv6_is_exthdr(ip->proto) ? -1 : 0;
}

#endif
