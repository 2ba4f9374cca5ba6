/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The outer headers of every tunnel format, written in place. Shared by XDP and TC. */
#ifndef LIB_ENCAP_H
#define LIB_ENCAP_H

#include "csum.h"

static __always_inline __u8 inner_proto(__u8 inner_family)
{
	return inner_family == 6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
}

/*
 * An outer IPv4 header (no options, id 0, DF: too-big packets get an ICMP
 * error, never fragments) built in registers and stored as five words, its
 * checksum summed from those registers: read back from the packet, the
 * fields just stored byte by byte would stall the loads that span them.
 */
static __always_inline void write_ipv4_header(struct iphdr *iph, __u8 tos, __u16 tot_len, __u8 protocol,
					      __be32 saddr, __be32 daddr)
{
	frame_word *w = (frame_word *)iph;
	__u32 w0 = bpf_htonl(0x45000000 | ((__u32)tos << 16) | tot_len);
	__u32 w1 = bpf_htonl(IP_DF);
	__u32 w2 = bpf_htonl(((__u32)TUNNEL_TTL << 24) | ((__u32)protocol << 16)); /* check: 0 */
	__u16 check = csum_fold((__u64)w0 + w1 + w2 + saddr + daddr);

	w[0] = w0;
	w[1] = w1;
	w[2] = w2;
	w[3] = saddr;
	w[4] = daddr;
	*(frame_half *)&iph->check = check; /* summed in native order, so stored in it */
}

/*
 * Writes the outer header(s) of tunnel t at `outer`, in front of an inner
 * packet of inner_len bytes. tos is the inner DSCP and ECN, copied out
 * (RFC 6040 normal mode). Returns -1 if the headers do not fit.
 */
static __always_inline int write_outer(void *outer, void *data_end, const struct tunnel *t,
				       __u8 inner_family, __u16 inner_len, __u8 tos)
{
	if (t->format == TUNNEL_IP6) {
		struct ipv6hdr *ip6h = outer;

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		*(__be32 *)ip6h = bpf_htonl(0x60000000 | ((__u32)tos << 20));
		ip6h->payload_len = bpf_htons(inner_len);
		ip6h->nexthdr = inner_proto(inner_family);
		ip6h->hop_limit = TUNNEL_TTL;
		__builtin_memcpy(&ip6h->saddr, t->local.v6, 16);
		__builtin_memcpy(&ip6h->daddr, t->remote.v6, 16);
		return 0;
	}

	struct iphdr *iph = outer;
	int udp = tunnel_is_udp(t->format);
	int tlv = t->format == TUNNEL_UDP4_TLV;
	__u16 l4 = udp ? sizeof(struct udphdr) + (tlv ? sizeof(struct tlvhdr) : 0) : 0;

	if ((void *)(iph + 1) > data_end)
		return -1;
	write_ipv4_header(iph, tos, sizeof(*iph) + l4 + inner_len, udp ? IPPROTO_UDP : inner_proto(inner_family),
			  t->local.v4, t->remote.v4);
	if (!udp)
		return 0;

	struct udphdr *udph = (void *)(iph + 1);

	if ((void *)(udph + 1) > data_end)
		return -1;
	udph->source = t->local_port;
	udph->dest = t->remote_port;
	udph->len = bpf_htons(l4 + inner_len);
	udph->check = 0; /* optional over IPv4; NATs leave a zero checksum alone */
	if (tlv) {
		struct tlvhdr *tlvh = (void *)(udph + 1);

		if ((void *)(tlvh + 1) > data_end)
			return -1;
		tlvh->type = inner_family == 6 ? TLV_TYPE_IPV6 : TLV_TYPE_IPV4;
		tlvh->len = inner_len & 0xff; /* an 8-bit field: see README, "TLV length" */
		tlvh->reserved = 0;
	}
	return 0;
}

#endif
