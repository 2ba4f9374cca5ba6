/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Proxy ARP and proxy Neighbor Discovery on the home link (RFC 6275
 * §10.4.1, RFC 5555 §4.2): while a node is away, the home agent answers
 * for its home addresses with its own MAC, so that the home link's hosts
 * send it their packets, which the anchor then tunnels. "Away" is exactly
 * "has an exact home4/home6 entry", so the answer starts and stops with the
 * binding, in the same map write. The answer leaves by the interface the
 * question came in on.
 */
#ifndef LIB_PROXY_H
#define LIB_PROXY_H

#include "common.h"
#include "maps.h"
#include "csum.h"

#define ARPHRD_ETHER 1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT 136
#define ND_OPT_TARGET_LL_ADDR 2
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE 0x20
#define NS_MAX_LEN 256 /* an NS longer than this (options galore) is left to the stack */

struct arp_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

/* A Neighbor Advertisement with a Target Link-Layer Address option: what we send. */
struct nd_advert {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__u8 flags;
	__u8 reserved[3];
	struct in6_addr target;
	__u8 opt_type;
	__u8 opt_len; /* in 8-byte units */
	__u8 opt_mac[6];
};

static __always_inline struct home_link *home_link_of(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;

	return bpf_map_lookup_elem(&home_links, &ifindex);
}

/* An ARP request for an away node's IPv4 home address: turned, in place, into our reply. */
static __always_inline int xdp_proxy_arp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct arp_ipv4 *arp = (void *)(eth + 1);
	struct home_link *link;
	__be32 target, sender;

	if ((void *)(arp + 1) > data_end)
		return XDP_PASS;
	if (arp->htype != bpf_htons(ARPHRD_ETHER) || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != 6 ||
	    arp->plen != 4 || arp->op != bpf_htons(ARPOP_REQUEST))
		return XDP_PASS;
	__builtin_memcpy(&target, arp->tpa, 4);
	__builtin_memcpy(&sender, arp->spa, 4);
	if (sender == target) /* the node's own announcement (it is back): not ours to answer */
		return XDP_PASS;
	link = home_link_of(ctx);
	if (!link || !bpf_map_lookup_elem(&home4, &target))
		return XDP_PASS;

	__builtin_memcpy(eth->h_dest, arp->sha, 6);
	__builtin_memcpy(eth->h_source, link->mac, 6);
	arp->op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(arp->tha, arp->sha, 6);
	__builtin_memcpy(arp->tpa, &sender, 4); /* 0.0.0.0 for a probe: the reply defends the address */
	__builtin_memcpy(arp->sha, link->mac, 6);
	__builtin_memcpy(arp->spa, &target, 4);
	count_event(EVENT_PROXY_ARP);
	return bpf_redirect(ctx->ingress_ifindex, 0);
}

/*
 * A Neighbor Solicitation (hop limit 255, as RFC 4861 §7.1.1 requires) for
 * an away node's IPv6 home address: rewritten into a solicited NA from our
 * address on the link, R clear (the node is a host), O set. One for
 * duplicate address detection (unspecified source) defends the address:
 * the NA goes to all-nodes, unsolicited.
 */
static __always_inline int xdp_proxy_ns(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h = (void *)(eth + 1);
	struct nd_advert *na = (void *)(ip6h + 1);
	struct home_link *link;
	struct in6_addr target, dst;
	__u8 peer_mac[6];
	__u16 plen;
	int dad;
	__u64 sum = 0;

	/* the fixed part of an NS (type..target) is the first 24 bytes of an nd_advert */
	if ((void *)na + 24 > data_end)
		return XDP_PASS;
	plen = bpf_ntohs(ip6h->payload_len);
	if (ip6h->hop_limit != 255 || na->type != ND_NEIGHBOR_SOLICIT || na->code != 0 || plen < 24 || plen > NS_MAX_LEN)
		return XDP_PASS;
	link = home_link_of(ctx);
	__builtin_memcpy(&target, &na->target, 16);
	if (!link || !bpf_map_lookup_elem(&home6, &target))
		return XDP_PASS;
	dad = !ip6h->saddr.in6_u.u6_addr32[0] && !ip6h->saddr.in6_u.u6_addr32[1] &&
	      !ip6h->saddr.in6_u.u6_addr32[2] && !ip6h->saddr.in6_u.u6_addr32[3];
	if (dad) {
		dst = (struct in6_addr){ .in6_u.u6_addr8 = { 0xff, 0x02, [15] = 1 } };
		__builtin_memcpy(peer_mac, (__u8[6]){ 0x33, 0x33, 0, 0, 0, 1 }, 6);
	} else {
		__builtin_memcpy(&dst, &ip6h->saddr, 16);
		__builtin_memcpy(peer_mac, eth->h_source, 6);
	}

	/* exactly Ethernet + IPv6 + our NA: whatever options (or padding) followed go
	 * (the packet pointers are reloaded after; link, a map value, stays valid) */
	if (bpf_xdp_adjust_tail(ctx, (int)(sizeof(*eth) + sizeof(*ip6h) + sizeof(*na)) - (int)(data_end - data)))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip6h = (void *)(eth + 1);
	na = (void *)(ip6h + 1);
	if ((void *)(na + 1) > data_end)
		return XDP_DROP;

	__builtin_memcpy(eth->h_dest, peer_mac, 6);
	__builtin_memcpy(eth->h_source, link->mac, 6);
	*(__be32 *)ip6h = bpf_htonl(0x60000000);
	ip6h->payload_len = bpf_htons(sizeof(*na));
	ip6h->nexthdr = IPPROTO_ICMPV6;
	ip6h->hop_limit = 255;
	__builtin_memcpy(&ip6h->saddr, link->ipv6.v6, 16);
	__builtin_memcpy(&ip6h->daddr, &dst, 16);
	*na = (struct nd_advert){
		.type = ND_NEIGHBOR_ADVERT,
		.flags = NA_FLAG_OVERRIDE | (dad ? 0 : NA_FLAG_SOLICITED),
		.target = target,
		.opt_type = ND_OPT_TARGET_LL_ADDR,
		.opt_len = 1,
	};
	__builtin_memcpy(na->opt_mac, link->mac, 6);
	sum = csum_add_addr6(sum, link->ipv6.v6);
	sum = csum_add_addr6(sum, (__be32 *)&dst);
	sum += bpf_htonl(sizeof(*na)) + bpf_htonl(IPPROTO_ICMPV6);
	sum += (__u32)bpf_csum_diff(0, 0, (__be32 *)na, sizeof(*na), 0);
	na->checksum = csum_fold(sum);
	count_event(EVENT_PROXY_NA);
	return bpf_redirect(ctx->ingress_ifindex, 0);
}

#endif
