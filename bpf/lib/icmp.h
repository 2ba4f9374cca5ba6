/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP "fragmentation needed" and ICMPv6 "packet too big", built in place
 * from the offending packet and sent back out of the interface it came in
 * on (XDP_TX): the sender learns the tunnel's MTU instead of a silent drop.
 */
#ifndef LIB_ICMP_H
#define LIB_ICMP_H

#include "maps.h"
#include "csum.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[ICMP_QUOTE_MAX]);
} icmp_scratch SEC(".maps");

/* Checksum contribution of the first `quote` bytes of the frame at offset off. */
static __always_inline int quote_sum(struct xdp_md *ctx, __u32 off, __u32 quote, __u64 *sum)
{
	__u32 zero = 0;
	__u8 *buf = bpf_map_lookup_elem(&icmp_scratch, &zero);

	if (!buf || quote > ICMP_QUOTE_MAX || quote < 4)
		return -1;
	quote = ((quote - 1) & (ICMP_QUOTE_MAX - 1)) + 1; /* the same, bounded for the verifier */
	if (bpf_xdp_load_bytes(ctx, off, buf, quote))
		return -1;
	*sum += (__u32)bpf_csum_diff(0, 0, (__be32 *)buf, quote, 0);
	return 0;
}

/*
 * Is the packet (described by ip, after the Ethernet header) itself an ICMP
 * error? No ICMP error may answer one (RFC 1122 3.2.2, RFC 4443 2.4 (e)).
 * IPv6 extension headers before the ICMPv6 header are walked.
 */
static __always_inline int is_icmp_error(struct xdp_md *ctx, const struct ip_info *ip)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ip_info upper = *ip;
	__u8 type;

	if (ip->family == 6 && ipv6_skip_exthdrs(data + sizeof(struct ethhdr), data_end, &upper))
		return 1; /* unreadable: answer nothing */
	if (upper.proto != (ip->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6) ||
	    bpf_xdp_load_bytes(ctx, sizeof(struct ethhdr) + upper.hlen, &type, 1))
		return 0;
	if (ip->family == 6)
		return type < 128; /* 0-127: errors, 128-255: informational */
	return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
	       type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

/*
 * May an ICMP error answer this packet at all? Not one about an ICMP error
 * or a later IPv4 fragment (RFC 1122 3.2.2), nor one to a source that names
 * no single host: unspecified, loopback, multicast, IPv4 class E and
 * broadcast (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)).
 */
static __always_inline int icmp_error_allowed(struct xdp_md *ctx, const struct ip_info *ip)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	void *l3 = data + sizeof(struct ethhdr);

	if ((void *)l3 + sizeof(struct ipv6hdr) > data_end)
		return 0;
	if (ip->family == 4) {
		__u8 first = ((__u8 *)&((struct iphdr *)l3)->saddr)[0];

		if (ip->frag & IP_OFFSET || first == 0 || first == 127 || first >= 224)
			return 0;
	} else {
		const struct in6_addr *src = &((struct ipv6hdr *)l3)->saddr;
		int unspecified_or_loopback = !src->in6_u.u6_addr32[0] && !src->in6_u.u6_addr32[1] &&
					      !src->in6_u.u6_addr32[2] && !(src->in6_u.u6_addr32[3] & ~bpf_htonl(1));

		if (unspecified_or_loopback || src->in6_u.u6_addr8[0] == 0xff)
			return 0;
	}
	return !is_icmp_error(ctx, ip);
}

/* Takes one error's worth from this CPU's budget; 0 if it is spent. */
static __always_inline int icmp_budget_take(void)
{
	const __u64 cost = 1000000000ULL / ICMP_ERRORS_PER_SEC, cap = cost * ICMP_ERRORS_BURST;
	__u32 zero = 0;
	struct icmp_budget *b = bpf_map_lookup_elem(&icmp_budget, &zero);
	__u64 now = bpf_ktime_get_ns(), credit;

	if (!b)
		return 0;
	credit = b->credit_ns + (now > b->stamp_ns ? now - b->stamp_ns : 0);
	if (credit > cap)
		credit = cap;
	b->stamp_ns = now > b->stamp_ns ? now : b->stamp_ns;
	if (credit < cost) {
		b->credit_ns = credit;
		return 0;
	}
	b->credit_ns = credit - cost;
	return 1;
}

static __always_inline int icmp_header_len(__u8 family)
{
	return family == 4 ? sizeof(struct iphdr) + sizeof(struct icmphdr)
			   : sizeof(struct ipv6hdr) + sizeof(struct icmp6hdr);
}

/*
 * The frame holds Ethernet + the offending IP packet (described by ip).
 * mtu is the largest inner packet the tunnel takes. Returns XDP_TX, or
 * XDP_DROP if no error could be built (counted either way by the caller).
 */
static __always_inline int xdp_icmp_too_big(struct xdp_md *ctx, const struct ip_info *ip, __u32 mtu)
{
	struct anchor_config *cfg = get_config();
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 macs[12];
	__be32 sender[4];
	int hdr = icmp_header_len(ip->family);
	__u32 quote = ip->len > ICMP_QUOTE_MAX ? ICMP_QUOTE_MAX : ip->len;
	__u64 sum = 0;

	quote &= ~3U;
	if (!cfg || (void *)(eth + 1) + sizeof(struct ipv6hdr) > data_end)
		return XDP_DROP;
	__builtin_memcpy(macs, eth->h_source, 6);
	__builtin_memcpy(macs + 6, eth->h_dest, 6);
	if (ip->family == 4) {
		sender[0] = ((struct iphdr *)(eth + 1))->saddr;
		if (!cfg->icmp_src4.v4)
			return XDP_DROP;
	} else {
		__builtin_memcpy(sender, &((struct ipv6hdr *)(eth + 1))->saddr, 16);
		if (!cfg->icmp_src6.v6[0] && !cfg->icmp_src6.v6[1] && !cfg->icmp_src6.v6[2] && !cfg->icmp_src6.v6[3])
			return XDP_DROP;
	}
	if (quote_sum(ctx, sizeof(*eth), quote, &sum))
		return XDP_DROP;
	if (bpf_xdp_adjust_tail(ctx, (int)(sizeof(*eth) + quote) - (int)(data_end - data)))
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, -hdr))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) + sizeof(struct ipv6hdr) + sizeof(struct icmp6hdr) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, macs, 12);

	if (ip->family == 4) {
		struct iphdr *iph = (void *)(eth + 1);
		struct icmphdr *icmph = (void *)(iph + 1);

		eth->h_proto = bpf_htons(ETH_P_IP);
		*iph = (struct iphdr){
			.version = 4, .ihl = 5, .tos = 0xc0, .ttl = TUNNEL_TTL,
			.tot_len = bpf_htons(hdr + quote), .protocol = IPPROTO_ICMP,
			.saddr = cfg->icmp_src4.v4, .daddr = sender[0],
		};
		iph->check = ipv4_csum(iph);
		*icmph = (struct icmphdr){ .type = ICMP_DEST_UNREACH, .code = ICMP_FRAG_NEEDED };
		icmph->un.frag.mtu = bpf_htons(mtu);
		sum += (__u32)bpf_csum_diff(0, 0, (__be32 *)icmph, sizeof(*icmph), 0);
		icmph->checksum = csum_fold(sum);
	} else {
		struct ipv6hdr *ip6h = (void *)(eth + 1);
		struct icmp6hdr *icmp6h = (void *)(ip6h + 1);
		__u16 plen = sizeof(*icmp6h) + quote;

		eth->h_proto = bpf_htons(ETH_P_IPV6);
		*(__be32 *)ip6h = bpf_htonl(0x60000000);
		ip6h->payload_len = bpf_htons(plen);
		ip6h->nexthdr = IPPROTO_ICMPV6;
		ip6h->hop_limit = TUNNEL_TTL;
		__builtin_memcpy(&ip6h->saddr, cfg->icmp_src6.v6, 16);
		__builtin_memcpy(&ip6h->daddr, sender, 16);
		*icmp6h = (struct icmp6hdr){ .icmp6_type = ICMPV6_PKT_TOOBIG };
		icmp6h->icmp6_mtu = bpf_htonl(mtu);
		sum = csum_add_addr6(sum, cfg->icmp_src6.v6);
		sum = csum_add_addr6(sum, sender);
		sum += bpf_htonl(plen) + bpf_htonl(IPPROTO_ICMPV6);
		sum += (__u32)bpf_csum_diff(0, 0, (__be32 *)icmp6h, sizeof(*icmp6h), 0);
		icmp6h->icmp6_cksum = csum_fold(sum);
	}
	return XDP_TX;
}

#endif
