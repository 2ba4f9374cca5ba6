// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The anchor's data plane.
 *
 *   XDP, on every interface:
 *     tunnel or signalling packet to one of our endpoints?
 *       signalling (Mobility Header, or a signalling port; at a mobile
 *       node also one tunnelled to its home address)  -> ring buffer
 *       tunnelled data -> check it against its binding, decapsulate, forward
 *     packet for a binding (by destination at the anchor, by source at a
 *     mobile node)  -> encapsulate towards the other end, forward
 *     ARP request or Neighbor Solicitation on a home link for an away
 *     node's home address  -> answered with our MAC (proxy)
 *     anything else  -> the kernel, untouched
 *
 *   TC: the same encapsulation for packets the host itself originates
 *   (egress), and for those XDP handed up to resolve a neighbour (ingress).
 *
 * The role (anchor or mobile node) only decides which inner address picks
 * the binding; a mobile node runs this same program.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/lookup.h"
#include "lib/encap.h"
#include "lib/icmp.h"
#include "lib/signal.h"
#include "lib/proxy.h"

#define NOT_OURS -1

/* What a tunnel packet said about itself, for the reverse-tunnel check. */
struct tunnel_hdr {
	__u8 format;
	__u8 inner_family;
	__u16 inner_off;     /* from the start of the frame */
	__u8 tos;
	__be16 sport, dport; /* UDP forms */
	const __be32 *src, *dst; /* the outer addresses, in the packet: 4 or 16 bytes */
};

enum nexthop_verdict { NH_FORWARD, NH_STACK, NH_TOO_BIG, NH_NO_ROUTE };

static __always_inline int is_anchor(const struct anchor_config *cfg)
{
	return cfg->role == ROLE_ANCHOR;
}

static __always_inline void decrement_ttl(void *l3, __u8 family)
{
	if (family == 4) {
		struct iphdr *iph = l3;
		__u32 check = iph->check;

		check += bpf_htons(0x0100);
		iph->check = (__u16)(check + (check >= 0xFFFF));
		iph->ttl--;
	} else {
		((struct ipv6hdr *)l3)->hop_limit--;
	}
}

static __always_inline void fib_params_tunnel(struct bpf_fib_lookup *p, const struct tunnel *t,
					      __u16 outer_len, __u32 ifindex)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->ifindex = ifindex;
	p->tot_len = outer_len;
	if (tunnel_outer_is_v6(t->format)) {
		p->family = AF_INET6;
		p->l4_protocol = IPPROTO_IPV6;
		__builtin_memcpy(p->ipv6_src, t->local.v6, 16);
		__builtin_memcpy(p->ipv6_dst, t->remote.v6, 16);
	} else {
		p->family = AF_INET;
		p->l4_protocol = tunnel_is_udp(t->format) ? IPPROTO_UDP : IPPROTO_IPIP;
		p->ipv4_src = t->local.v4;
		p->ipv4_dst = t->remote.v4;
	}
}

static __always_inline __u32 tunnel_mtu(const struct tunnel *t, __u32 nh_mtu)
{
	return t->mtu && t->mtu < nh_mtu ? t->mtu : nh_mtu;
}

/*
 * Makes sure the next hop towards a tunnel's remote end is in this copy of
 * it: found in `nexthops` for this version of the tunnel, or learnt from the
 * FIB now and told there (a move, or the control plane's flush on a route
 * or neighbour change, makes it stale). *mtu: the largest outer packet the
 * way takes.
 */
static __always_inline enum nexthop_verdict
tunnel_nexthop(struct xdp_md *ctx, struct tunnel *t, __u16 outer_len, __u32 *mtu)
{
	struct bpf_fib_lookup p;
	__u32 dev_mtu = 0;
	int rc;

	if (t->nh_valid) {
		*mtu = tunnel_mtu(t, t->nh_mtu);
		return outer_len > *mtu ? NH_TOO_BIG : NH_FORWARD;
	}
	fib_params_tunnel(&p, t, outer_len, ctx->ingress_ifindex);
	rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		*mtu = tunnel_mtu(t, p.mtu_result);
		return NH_TOO_BIG;
	}
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		*mtu = tunnel_mtu(t, 0xffff);
		return outer_len > *mtu ? NH_TOO_BIG : NH_STACK;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return NH_NO_ROUTE;

	bpf_check_mtu(ctx, p.ifindex, &dev_mtu, 0, 0);
	/* The FIB's MTU for this route (a route "mtu lock", a learnt path MTU)
	 * binds too: caching the device's alone let packets over it through
	 * once the next hop was learnt. nh_mtu has 16 bits. */
	if (p.mtu_result && p.mtu_result < dev_mtu)
		dev_mtu = p.mtu_result;
	if (dev_mtu > 0xffff)
		dev_mtu = 0xffff;
	nexthop_learnt(t, p.ifindex, dev_mtu, p.smac, p.dmac);
	count_event(EVENT_NH_LEARNT);
	*mtu = tunnel_mtu(t, dev_mtu);
	return outer_len > *mtu ? NH_TOO_BIG : NH_FORWARD;
}

/* Out of ifindex, also when that is where the frame came in: XDP_TX into a
 * veth is lost unless the peer runs XDP, a redirect only needs GRO there. */
static __always_inline int redirect_to(__u32 ifindex)
{
	return bpf_redirect(ifindex, 0);
}

static __always_inline int xdp_too_big(struct xdp_md *ctx, const struct ip_info *ip, __u32 mtu)
{
	if (!ip->df) {
		count_drop(DROP_TOO_BIG_NO_DF);
		return XDP_DROP;
	}
	count_drop(DROP_TOO_BIG);
	if (!icmp_error_allowed(ctx, ip)) {
		count_event(EVENT_ICMP_WITHHELD);
		return XDP_DROP;
	}
	if (!icmp_budget_take()) {
		count_event(EVENT_ICMP_RATE_LIMITED);
		return XDP_DROP;
	}
	if (xdp_icmp_too_big(ctx, ip, mtu) != XDP_TX)
		return XDP_DROP;
	count_event(EVENT_ICMP_SENT);
	return redirect_to(ctx->ingress_ifindex);
}

/* The frame is Ethernet + the inner packet ip; send it down tunnel t. */
static __always_inline int xdp_encap(struct xdp_md *ctx, struct tunnel *t, const struct ip_info *ip)
{
	void *data, *data_end;
	struct ethhdr *eth;
	__u32 mtu = 0;
	int overhead = tunnel_overhead(t->format);
	enum nexthop_verdict verdict;

	if (overhead < 0)
		return XDP_PASS;
	if (ip->ttl <= 1) {
		count_event(EVENT_STACK_TTL);
		return XDP_PASS; /* the stack sends the Time Exceeded */
	}
	verdict = tunnel_nexthop(ctx, t, ip->len + overhead, &mtu);
	if (verdict == NH_TOO_BIG)
		return xdp_too_big(ctx, ip, mtu - overhead);
	if (verdict == NH_NO_ROUTE) {
		count_drop(DROP_NO_ROUTE);
		return XDP_DROP;
	}
	if (verdict == NH_STACK) {
		/* TC ingress tunnels it and lets the kernel resolve the neighbour
		 * (bpf_redirect_neigh): an encapsulated packet handed up here would
		 * carry one of our own addresses as source, a martian to the stack. */
		count_event(EVENT_STACK_NO_NEIGH);
		return XDP_PASS;
	}

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	/* an IPv4 header's worth: hop_limit and the whole IPv4 header fit in it,
	 * and a short IPv4 packet is no less ours than a long one */
	if ((void *)(eth + 1) + sizeof(struct iphdr) > data_end)
		return XDP_PASS;
	decrement_ttl(eth + 1, ip->family);
	if (bpf_xdp_adjust_head(ctx, -overhead)) {
		count_drop(DROP_HEADROOM);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end ||
	    write_outer(eth + 1, data_end, t, ip->family, ip->len, ip->tos))
		return XDP_DROP;
	eth->h_proto = bpf_htons(tunnel_outer_is_v6(t->format) ? ETH_P_IPV6 : ETH_P_IP);
	count_binding(t, 0, ip->len);
	write_macs(eth, t->nh_dmac, t->nh_smac);
	return redirect_to(t->nh_ifindex);
}

/* The destination cache slot of an inner destination (16 bytes, IPv4 in the first four). */
static __always_inline struct dest_cache_entry *dest_slot(const __be32 *addr, __u8 family)
{
	__u32 slot = addr_slot(addr, family, 10);

	return bpf_map_lookup_elem(&dest_cache, &slot);
}

static __always_inline int dest_hit(const struct dest_cache_entry *e, const __be32 *addr, __u8 family, __u32 generation)
{
	return e && e->generation == generation && e->family == family && addr6_eq(e->addr, addr);
}

/* The current destination cache entry of a (validated) inner packet's destination, if any. */
static __always_inline struct dest_cache_entry *dest_of_inner(void *inner, __u8 family, __u32 generation)
{
	struct dest_cache_entry *e;

	if (family == 4) {
		__be32 dst[4] = { ((struct iphdr *)inner)->daddr };

		e = dest_slot(dst, 4);
		return dest_hit(e, dst, 4, generation) ? e : 0;
	}
	const __be32 *dst = ((struct ipv6hdr *)inner)->daddr.in6_u.u6_addr32;

	e = dest_slot(dst, 6);
	return dest_hit(e, dst, 6, generation) ? e : 0;
}

/* The entry, if forward_cached() may take the packet there without the stack's help. */
static __always_inline struct dest_cache_entry *forwardable(struct dest_cache_entry *e, const struct ip_info *ip)
{
	return e && ip->len <= e->mtu && ip->ttl > 1 ? e : 0;
}

/* The frame (Ethernet + ip, checked forwardable()) out to e's next hop. */
static __always_inline int forward_cached(struct ethhdr *eth, const struct ip_info *ip, const struct dest_cache_entry *e)
{
	decrement_ttl(eth + 1, ip->family);
	write_macs(eth, e->dmac, e->smac);
	return redirect_to(e->ifindex);
}

/* Forwards the frame (Ethernet + a packet of ip->len bytes) to a known next hop, or hands it up. */
static __always_inline int forward_to(struct xdp_md *ctx, const struct ip_info *ip, __u32 ifindex, __u32 mtu,
				      const __u8 *dmac, const __u8 *smac)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) + sizeof(struct iphdr) > data_end)
		return XDP_PASS;
	if (ip->len > mtu) {
		count_event(EVENT_STACK_ROUTE); /* too big: the stack sends the ICMP error */
		return XDP_PASS;
	}
	if (ip->ttl <= 1) {
		count_event(EVENT_STACK_TTL);
		return XDP_PASS;
	}
	decrement_ttl(eth + 1, ip->family);
	__builtin_memcpy(eth->h_dest, dmac, 6);
	__builtin_memcpy(eth->h_source, smac, 6);
	return redirect_to(ifindex);
}

/*
 * The frame is Ethernet + a decapsulated packet: route it on. The per-CPU
 * destination cache spares the hot path the home lookup and the FIB lookup
 * (the costliest call here); any change the control plane makes bumps the
 * generation and so empties it. cached: the packet's destination as the
 * caller found it there (forward_cached() declined it: too big, or its hop
 * limit spent), or 0 if it was not.
 */
static __always_inline int xdp_forward_inner(struct xdp_md *ctx, const struct ip_info *ip,
					     const struct anchor_config *cfg, const struct dest_cache_entry *cached)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__be32 dst[4] = {};
	struct dest_cache_entry *e;
	struct bpf_fib_lookup p;
	__u32 generation = cfg->generation, mtu = 0;
	int anchor = is_anchor(cfg);
	int rc;

	if (cached) /* a hit also says the destination was no home address */
		return forward_to(ctx, ip, cached->ifindex, cached->mtu, cached->dmac, cached->smac);
	if ((void *)(eth + 1) + sizeof(struct iphdr) > data_end) /* short IPv4 packets too */
		return XDP_PASS;
	if (ip->family == 4) {
		struct iphdr *iph = (void *)(eth + 1);

		dst[0] = iph->daddr;
		/* home address or prefix (a NEMO mobile network), as in xdp_ipv4() */
		struct tunnel *t = anchor ? binding_of(dst, 4, generation, 1, 0) : 0;

		if (t) /* from one mobile node to another: straight back into a tunnel */
			return xdp_encap(ctx, t, ip);
		__builtin_memset(&p, 0, sizeof(p));
		p.family = AF_INET;
		p.tos = iph->tos;
		p.ipv4_src = iph->saddr;
		p.ipv4_dst = iph->daddr;
	} else {
		struct ipv6hdr *ip6h = (void *)(eth + 1);
		struct tunnel *t;

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		__builtin_memcpy(dst, &ip6h->daddr, 16);
		t = anchor ? binding_of(dst, 6, generation, 1, 0) : 0;
		if (t)
			return xdp_encap(ctx, t, ip);
		__builtin_memset(&p, 0, sizeof(p));
		p.family = AF_INET6;
		__builtin_memcpy(p.ipv6_src, &ip6h->saddr, 16);
		__builtin_memcpy(p.ipv6_dst, &ip6h->daddr, 16);
	}
	p.ifindex = ctx->ingress_ifindex;
	p.tot_len = ip->len;
	p.l4_protocol = ip->proto;
	rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		/* local delivery, no neighbour yet, too big, unreachable: the stack's job */
		count_event(rc == BPF_FIB_LKUP_RET_NO_NEIGH ? EVENT_STACK_NO_NEIGH : EVENT_STACK_ROUTE);
		return XDP_PASS;
	}
	bpf_check_mtu(ctx, p.ifindex, &mtu, 0, 0);
	if (p.mtu_result && p.mtu_result < mtu) /* the route's MTU binds too (see tunnel_nexthop) */
		mtu = p.mtu_result;
	e = dest_slot(dst, ip->family);
	if (e && generation) {
		__builtin_memcpy(e->addr, dst, sizeof(dst));
		e->family = ip->family;
		e->ifindex = p.ifindex;
		e->mtu = mtu > 0xffff ? 0xffff : mtu;
		__builtin_memcpy(e->smac, p.smac, 6);
		__builtin_memcpy(e->dmac, p.dmac, 6);
		e->generation = generation;
	}
	return forward_to(ctx, ip, p.ifindex, mtu ? mtu : 0xffff, p.dmac, p.smac);
}

/*
 * Does the tunnel packet come from where its binding says, in its format?
 * Returns the drop reason if not, -1 if so.
 */
static __always_inline int reverse_drop_reason(const struct tunnel *t, const struct tunnel_hdr *th)
{
	if (t->format != th->format)
		return DROP_FORMAT_MISMATCH;
	if (th->format == TUNNEL_IP6 ? !addr6_eq(t->remote.v6, th->src) || !addr6_eq(t->local.v6, th->dst)
				     : t->remote.v4 != th->src[0] || t->local.v4 != th->dst[0])
		return DROP_SPOOFED_OUTER;
	if (tunnel_is_udp(th->format) && (t->remote_port != th->sport || t->local_port != th->dport))
		return DROP_SPOOFED_OUTER;
	return -1;
}

/*
 * RFC 6040 decapsulation (its Figure 4): outer CE marks an ECN-capable inner
 * packet CE (a Not-ECT one is dropped: -1), outer ECT(1) turns inner ECT(0)
 * into ECT(1); every other pair leaves the inner field as it is.
 */
static __always_inline int propagate_ecn(void *inner, const struct ip_info *in, __u8 outer_tos)
{
	__u8 outer = outer_tos & ECN_MASK, was = in->tos & ECN_MASK, now;

	if (outer == ECN_CE) {
		if (was == ECN_NOT_ECT)
			return -1;
		now = ECN_CE;
	} else if (outer == ECN_ECT1 && was == ECN_ECT0) {
		now = ECN_ECT1;
	} else {
		return 0;
	}
	if (in->family == 4) {
		struct iphdr *iph = inner;
		__be16 old = *(__be16 *)iph;

		iph->tos = (iph->tos & ~ECN_MASK) | now;
		csum_replace2(&iph->check, old, *(__be16 *)iph);
	} else {
		((__u8 *)inner)[1] = (((__u8 *)inner)[1] & ~(ECN_MASK << 4)) | now << 4;
	}
	return 0;
}

/* Parses the inner packet; -1 if it is malformed or overruns the outer one. */
static __always_inline int parse_inner(void *inner, void *data_end, const struct tunnel_hdr *th, __u16 outer_end,
				       struct ip_info *in)
{
	if (th->inner_family == 4 ? parse_ipv4(inner, data_end, in) : parse_ipv6(inner, data_end, in))
		return -1;
	return th->inner_off + in->len > outer_end ? -1 : 0;
}

/* The binding of an inner packet: by its source at the anchor, its destination at a mobile node. */
static __always_inline struct tunnel *binding_of_inner(void *inner, __u8 family, const struct anchor_config *cfg,
						       __u32 *local_flags)
{
	int anchor = is_anchor(cfg);

	if (family == 4) {
		struct iphdr *iph = inner;
		__be32 key[4] = { anchor ? iph->saddr : iph->daddr };

		return binding_of(key, 4, cfg->generation, 0, local_flags);
	}
	struct ipv6hdr *ip6h = inner;

	return binding_of((anchor ? &ip6h->saddr : &ip6h->daddr)->in6_u.u6_addr32, 6, cfg->generation, 0, local_flags);
}

/* Strips the outer headers of a checked tunnel packet of binding t and forwards the inner packet. */
static __always_inline int decap_forward(struct xdp_md *ctx, const struct tunnel_hdr *th, const struct tunnel *t,
					 void *inner, const struct ip_info *in, const struct anchor_config *cfg)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u8 macs[12];

	if (propagate_ecn(inner, in, th->tos)) {
		count_drop(DROP_ECN);
		return XDP_DROP;
	}
	count_binding(t, 1, in->len);

	/* The inner packet's next hop from the destination cache, read while
	 * the outer headers are still there: on a hit nothing of the old
	 * Ethernet header is needed afterwards. */
	struct dest_cache_entry *cached = dest_of_inner(inner, th->inner_family, cfg->generation);
	struct dest_cache_entry *nh = forwardable(cached, in);

	if (data + sizeof(struct ethhdr) > data_end)
		return XDP_DROP;
	if (!nh)
		__builtin_memcpy(macs, data, sizeof(macs));
	if (bpf_xdp_adjust_head(ctx, th->inner_off - sizeof(struct ethhdr))) {
		count_drop(DROP_HEADROOM);
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(struct ethhdr) + sizeof(struct iphdr) > data_end)
		return XDP_DROP;
	((struct ethhdr *)data)->h_proto = bpf_htons(th->inner_family == 6 ? ETH_P_IPV6 : ETH_P_IP);
	if (nh)
		return forward_cached(data, in, nh);
	__builtin_memcpy(data, macs, sizeof(macs));
	return xdp_forward_inner(ctx, in, cfg, cached);
}

/*
 * The hot path of decapsulation, before any endpoint lookup: a well-formed
 * tunnel packet whose binding is in this CPU's binding cache, from the
 * binding's care-of endpoint to its local one, which the cache entry says
 * is one of our decapsulating endpoints (and no signalling one). Returns
 * that binding, its inner packet in *inner and *in; 0 for anything else,
 * which the full path classifies after the endpoint lookup.
 */
static __always_inline struct tunnel *cached_tunnel(struct xdp_md *ctx, const struct tunnel_hdr *th, __u16 outer_end,
						    const struct anchor_config *cfg, void **inner, struct ip_info *in)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct tunnel *t;
	__u32 flags = 0;

	*inner = data + th->inner_off;
	if (th->inner_off > 256 || parse_inner(*inner, data_end, th, outer_end, in))
		return 0;
	t = binding_of_inner(*inner, th->inner_family, cfg, &flags);
	if (!t || (flags & (ENDPOINT_DECAP | ENDPOINT_SIGNAL)) != ENDPOINT_DECAP || reverse_drop_reason(t, th) >= 0)
		return 0;
	/* signalling in the UDP form is the full path's to find */
	if ((flags & ENDPOINT_MH) && tunnel_is_udp(th->format) && th->inner_family == 6 &&
	    (in->proto == IPPROTO_MH || ipv6_is_exthdr(in->proto)))
		return 0;
	return t;
}

/* A tunnel packet to one of our decapsulating endpoints: checked, decapsulated, forwarded, or dropped and counted. */
static __always_inline int xdp_decap(struct xdp_md *ctx, const struct tunnel_hdr *th, __u16 outer_end,
				     const struct anchor_config *cfg)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	void *inner = data + th->inner_off;
	struct ip_info in;
	struct tunnel *t;
	int reason;

	if (th->inner_off > 256) { /* outer headers longer than we strip: counted like any drop */
		count_drop(DROP_HEADROOM);
		return XDP_DROP;
	}
	if (parse_inner(inner, data_end, th, outer_end, &in)) {
		count_drop(DROP_MALFORMED_INNER);
		return XDP_DROP;
	}
	t = binding_of_inner(inner, th->inner_family, cfg, 0);
	if (!t) {
		count_drop(DROP_UNKNOWN_INNER_SOURCE);
		return XDP_DROP;
	}
	reason = reverse_drop_reason(t, th);
	if (reason >= 0) {
		count_drop(reason);
		return XDP_DROP;
	}
	return decap_forward(ctx, th, t, inner, &in, cfg);
}

static __always_inline __u8 first_nibble(void *p)
{
	return *(__u8 *)p >> 4;
}

/*
 * The tunnel format of an IPv4 packet to a tunnel protocol or listened UDP
 * port, and where its inner packet starts. -1: a malformed UDP form.
 */
static __always_inline int ipv4_tunnel_hdr(const struct ip_info *ip, struct udphdr *udph, void *data_end,
					   struct tunnel_hdr *th)
{
	th->inner_off = sizeof(struct ethhdr) + ip->hlen;
	if (ip->proto != IPPROTO_UDP) {
		th->format = TUNNEL_IP4;
		th->inner_family = ip->proto == IPPROTO_IPV6 ? 6 : 4;
		return 0;
	}
	void *payload = udph + 1;

	if (bpf_ntohs(udph->len) != ip->len - ip->hlen || payload + sizeof(struct tlvhdr) > data_end)
		return -1;
	th->inner_off += sizeof(*udph);
	if (first_nibble(payload) == 4 || first_nibble(payload) == 6) {
		th->format = TUNNEL_UDP4;
		th->inner_family = first_nibble(payload);
		return 0;
	}
	struct tlvhdr *tlv = payload;

	if (tlv->type != TLV_TYPE_IPV4 && tlv->type != TLV_TYPE_IPV6)
		return -1;
	th->format = TUNNEL_UDP4_TLV;
	th->inner_family = tlv->type == TLV_TYPE_IPV6 ? 6 : 4;
	th->inner_off += sizeof(*tlv);
	return 0;
}

/* IPv4 to one of our endpoints: IP-in-IP, UDP-encapsulated, or signalling. */
static __always_inline int xdp_ipv4_endpoint(struct xdp_md *ctx, struct iphdr *iph, const struct ip_info *ip,
					     const struct anchor_config *cfg)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct tunnel_hdr th = { .tos = ip->tos, .src = &iph->saddr, .dst = &iph->daddr };
	struct udphdr *udph = (void *)iph + ip->hlen;
	__u16 outer_end = sizeof(struct ethhdr) + ip->len;
	struct ip_info in;
	struct tunnel *t;
	void *inner;
	int malformed;
	__u32 flags;

	if (ip->proto == IPPROTO_UDP) {
		__u32 port;
		__u8 *listened;

		if ((void *)(udph + 1) > data_end)
			return NOT_OURS;
		port = bpf_ntohs(udph->dest);
		listened = bpf_map_lookup_elem(&endpoint_ports, &port);
		if (!listened || !*listened)
			return NOT_OURS;
		th.sport = udph->source;
		th.dport = udph->dest;
	} else if (ip->proto != IPPROTO_IPIP && ip->proto != IPPROTO_IPV6) {
		return NOT_OURS;
	}
	malformed = ipv4_tunnel_hdr(ip, udph, data_end, &th);
	t = malformed || ip->frag ? 0 : cached_tunnel(ctx, &th, outer_end, cfg, &inner, &in);
	if (t)
		return decap_forward(ctx, &th, t, inner, &in, cfg);
	flags = endpoint_flags(&iph->daddr, 4, th.dport, cfg->generation);
	if (!flags)
		return NOT_OURS;
	if (ip->frag) {
		count_drop(DROP_OUTER_FRAGMENT);
		return XDP_DROP;
	}
	if (flags & ENDPOINT_SIGNAL)
		return xdp_signal(ctx);
	if (malformed) {
		count_drop(DROP_MALFORMED_TUNNEL);
		return XDP_DROP;
	}
	if (tunnel_is_udp(th.format) && th.inner_family == 6 && (flags & ENDPOINT_MH) && th.inner_off < 256 &&
	    ipv6_is_mh(data + th.inner_off, data_end))
		return xdp_signal(ctx);
	if (!(flags & ENDPOINT_DECAP))
		return NOT_OURS;
	return xdp_decap(ctx, &th, outer_end, cfg);
}

static __always_inline int xdp_ipv4(struct xdp_md *ctx, const struct anchor_config *cfg)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct ip_info ip;
	struct tunnel *t;
	int verdict;

	if (parse_ipv4(iph, data_end, &ip)) {
		count_drop(DROP_MALFORMED_L3);
		return XDP_DROP;
	}
	if (ip.proto == IPPROTO_UDP || ip.proto == IPPROTO_IPIP || ip.proto == IPPROTO_IPV6) {
		verdict = xdp_ipv4_endpoint(ctx, iph, &ip, cfg);
		if (verdict != NOT_OURS)
			return verdict;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		iph = data + sizeof(struct ethhdr);
		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
	}
	{
		__be32 key[4] = { is_anchor(cfg) ? iph->daddr : iph->saddr };

		t = binding_of(key, 4, cfg->generation, 1, 0);
	}
	return t ? xdp_encap(ctx, t, &ip) : XDP_PASS;
}

/*
 * At a mobile node: a Mobility Header its home agent tunnelled to its home
 * address (a Binding Refresh Request: RFC 6275 §6.1 allows the type 2
 * routing header on BAs only), to a care-of endpoint flagged 'mh'. Only a
 * Mobility Header right after the inner IPv6 header: one byte read on the
 * way of every IPv6-in-IPv6 packet.
 */
static __always_inline int tunnelled_mh(struct xdp_md *ctx, const struct tunnel_hdr *th, const struct anchor_config *cfg)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *inner = data + (th->inner_off & 0xff);

	if (is_anchor(cfg) || th->inner_family != 6 || (void *)(inner + 1) > data_end || inner->nexthdr != IPPROTO_MH)
		return 0;
	return endpoint_flags(th->dst, 6, 0, cfg->generation) & ENDPOINT_MH;
}

/* IPv6 to one of our endpoints: IPv6/IPv4-in-IPv6, or a Mobility Header. */
static __always_inline int xdp_ipv6_endpoint(struct xdp_md *ctx, struct ipv6hdr *ip6h, struct ip_info *ip,
					     const struct anchor_config *cfg)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct tunnel_hdr th = {
		.format = TUNNEL_IP6, .tos = ip->tos,
		.src = ip6h->saddr.in6_u.u6_addr32, .dst = ip6h->daddr.in6_u.u6_addr32,
	};
	__u16 outer_end = sizeof(struct ethhdr) + ip->len;
	struct ip_info in;
	struct tunnel *t;
	void *inner;
	__u32 flags;

	if (ip->proto == IPPROTO_IPV6 || ip->proto == IPPROTO_IPIP) { /* no extension headers */
		th.inner_family = ip->proto == IPPROTO_IPV6 ? 6 : 4;
		th.inner_off = sizeof(struct ethhdr) + ip->hlen;
		if (tunnelled_mh(ctx, &th, cfg))
			return xdp_signal(ctx);
		t = cached_tunnel(ctx, &th, outer_end, cfg, &inner, &in);
		if (t)
			return decap_forward(ctx, &th, t, inner, &in, cfg);
	}
	flags = endpoint_flags(ip6h->daddr.in6_u.u6_addr32, 6, 0, cfg->generation);
	if (!flags)
		return NOT_OURS;
	if (ipv6_skip_exthdrs(ip6h, data_end, ip)) {
		count_drop(DROP_MALFORMED_L3);
		return XDP_DROP;
	}
	if (ip->frag)
		return NOT_OURS; /* fragments to us are the stack's to reassemble */
	if (ip->proto == IPPROTO_MH)
		return flags & ENDPOINT_MH ? xdp_signal(ctx) : NOT_OURS;
	if ((ip->proto != IPPROTO_IPV6 && ip->proto != IPPROTO_IPIP) || !(flags & ENDPOINT_DECAP))
		return NOT_OURS;
	th.inner_family = ip->proto == IPPROTO_IPV6 ? 6 : 4;
	th.inner_off = sizeof(struct ethhdr) + ip->hlen;
	return xdp_decap(ctx, &th, outer_end, cfg);
}

static __always_inline int ipv6_may_be_ours(__u8 nexthdr)
{
	return nexthdr == IPPROTO_IPV6 || nexthdr == IPPROTO_IPIP || nexthdr == IPPROTO_MH ||
	       ipv6_is_exthdr(nexthdr);
}

static __always_inline int xdp_ipv6(struct xdp_md *ctx, const struct anchor_config *cfg)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6h = data + sizeof(struct ethhdr);
	struct ip_info ip;
	struct tunnel *t;
	int verdict;

	if (parse_ipv6(ip6h, data_end, &ip)) {
		count_drop(DROP_MALFORMED_L3);
		return XDP_DROP;
	}
	if (ipv6_may_be_ours(ip.proto)) {
		verdict = xdp_ipv6_endpoint(ctx, ip6h, &ip, cfg);
		if (verdict != NOT_OURS)
			return verdict;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		ip6h = data + sizeof(struct ethhdr);
		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
	}
	if (ip6h->nexthdr == IPPROTO_ICMPV6 && is_anchor(cfg)) {
		verdict = xdp_proxy_ns(ctx);
		if (verdict != XDP_PASS)
			return verdict;
		data = (void *)(long)ctx->data; /* it may have called a helper that moves the packet */
		data_end = (void *)(long)ctx->data_end;
		ip6h = data + sizeof(struct ethhdr);
		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
	}
	if (is_anchor(cfg) && link_local_off_home_link(&ip6h->daddr, ctx->ingress_ifindex))
		return XDP_PASS;
	t = binding_of((const __be32 *)(is_anchor(cfg) ? &ip6h->daddr : &ip6h->saddr), 6, cfg->generation, 1, 0);
	return t ? xdp_encap(ctx, t, &ip) : XDP_PASS;
}

/* The XDP program's body, apart so that bpf/bench.c can wrap it. */
static __always_inline int anchor_xdp_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct anchor_config *cfg = get_config(); /* read once: passed down to whoever needs it */

	if ((void *)(eth + 1) > data_end || !cfg)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return xdp_ipv4(ctx, cfg);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return xdp_ipv6(ctx, cfg);
	if (eth->h_proto == bpf_htons(ETH_P_ARP) && is_anchor(cfg))
		return xdp_proxy_arp(ctx);
	return XDP_PASS;
}

SEC("xdp")
int anchor_xdp(struct xdp_md *ctx)
{
	return anchor_xdp_main(ctx);
}

/*
 * ---- TC: the same encapsulation where the kernel must take part ----
 *
 * Egress: packets the host itself sends to (at a mobile node: from) a home
 * address. Ingress: packets XDP handed up because the next hop's neighbour
 * was unresolved. Both leave through bpf_redirect_neigh, which resolves it.
 */

static __always_inline __u64 adjust_room_flags(__u8 format)
{
	switch (format) {
	case TUNNEL_IP6: return BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
	case TUNNEL_IP4: return BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
	case TUNNEL_UDP4: return BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP;
	}
	return BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
	       BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct tlvhdr));
}

static __always_inline void tc_decrement_ttl(struct __sk_buff *skb, __u8 family)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) + sizeof(struct iphdr) <= data_end) /* enough for either family */
		decrement_ttl(eth + 1, family);
}

static __always_inline int tc_encap(struct __sk_buff *skb, int forwarding)
{
	void *data, *data_end;
	struct ethhdr *eth;
	struct tunnel *t;
	struct bpf_fib_lookup p;
	__u8 family, tos, ttl;
	__u16 inner_len = skb->len - sizeof(struct ethhdr), ip_len;
	__u32 gso = skb->gso_size, ifindex = skb->ifindex;
	struct anchor_config *cfg = get_config();
	int anchor = !cfg || is_anchor(cfg), overhead, rc;

	asm volatile("" : "+r"(gso), "+r"(ifindex)); /* read the context once, here */
	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	if (bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct ipv6hdr)) &&
	    bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct iphdr)))
		return TC_ACT_OK;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) + sizeof(struct iphdr) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		family = 4;
		tos = iph->tos;
		ttl = iph->ttl;
		ip_len = bpf_ntohs(iph->tot_len);
		__be32 key[4] = { anchor ? iph->daddr : iph->saddr };

		t = binding_of(key, 4, cfg ? cfg->generation : 0, 0, 0);
	} else {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return TC_ACT_OK;
		family = 6;
		tos = ipv6_tclass(ip6h);
		ttl = ip6h->hop_limit;
		ip_len = bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h);
		t = anchor && link_local_off_home_link(&ip6h->daddr, ifindex)
			    ? 0
			    : binding_of((anchor ? &ip6h->daddr : &ip6h->saddr)->in6_u.u6_addr32, 6, cfg ? cfg->generation : 0, 0, 0);
	}
	if (!t)
		return TC_ACT_OK;
	overhead = tunnel_overhead(t->format);
	if (overhead < 0 || (forwarding && ttl <= 1))
		return TC_ACT_OK; /* the stack answers with Time Exceeded */
	if (gso && t->format == TUNNEL_UDP4_TLV) {
		count_drop(DROP_GSO_TLV);
		return TC_ACT_SHOT;
	}
	/* A short packet off a wire (TC ingress) still carries its Ethernet
	 * padding, which is no part of it: it must not go into the tunnel nor
	 * into the outer lengths. */
	if (!gso && ip_len < inner_len && ip_len >= sizeof(struct iphdr)) {
		if (bpf_skb_change_tail(skb, sizeof(struct ethhdr) + ip_len, 0)) {
			count_drop(DROP_HEADROOM);
			return TC_ACT_SHOT;
		}
		inner_len = ip_len;
	}

	fib_params_tunnel(&p, t, gso ? 0 : inner_len + overhead, ifindex);
	rc = bpf_fib_lookup(skb, &p, sizeof(p), 0); /* OUTPUT would pin the route to this device */
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED ||
	    (t->mtu && !gso && inner_len + overhead > t->mtu)) {
		count_drop(DROP_TOO_BIG_LOCAL);
		return TC_ACT_SHOT;
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) {
		count_drop(DROP_NO_ROUTE);
		return TC_ACT_SHOT;
	}
	if (forwarding)
		tc_decrement_ttl(skb, family);
	if (bpf_skb_adjust_room(skb, overhead, BPF_ADJ_ROOM_MAC, adjust_room_flags(t->format))) {
		count_drop(DROP_HEADROOM);
		return TC_ACT_SHOT;
	}
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end ||
	    write_outer(eth + 1, data_end, t, family, inner_len, tos))
		return TC_ACT_SHOT;
	eth->h_proto = bpf_htons(tunnel_outer_is_v6(t->format) ? ETH_P_IPV6 : ETH_P_IP);
	count_binding(t, 0, inner_len);
	return bpf_redirect_neigh(p.ifindex, 0, 0, 0);
}

SEC("tc")
int anchor_tc_ingress(struct __sk_buff *skb)
{
	return tc_encap(skb, 1);
}

SEC("tc")
int anchor_tc_egress(struct __sk_buff *skb)
{
	return tc_encap(skb, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
