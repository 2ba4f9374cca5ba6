/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Signalling leaves the kernel path here: the whole frame goes to the control
 * plane through a ring buffer. (This kernel has no MIPv6: it would drop a
 * packet with a Home Address option before any socket saw it.)
 */
#ifndef LIB_SIGNAL_H
#define LIB_SIGNAL_H

#include "maps.h"

/* Only ever used through a pointer, so nothing else would put struct
 * signal_event in the object's BTF, where the control plane's layout of it
 * is checked (test/dataplane/layout.test.ts). */
const struct signal_event *signal_event_btf __attribute__((unused));

static __always_inline int xdp_signal(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct signal_event *ev;

	if (len > SIGNAL_MAX_FRAME || len < sizeof(struct ethhdr)) {
		count_drop(DROP_SIGNAL_TOO_BIG);
		return XDP_DROP;
	}
	ev = bpf_ringbuf_reserve(&signals, sizeof(*ev), 0);
	if (!ev) {
		count_drop(DROP_SIGNAL_QUEUE_FULL);
		return XDP_DROP;
	}
	ev->ifindex = ctx->ingress_ifindex;
	ev->frame_len = len;
	ev->reserved = 0;
	/* 1..SIGNAL_MAX_FRAME in a form the verifier can follow */
	if (bpf_xdp_load_bytes(ctx, 0, ev->frame, ((len - 1) & (SIGNAL_MAX_FRAME - 1)) + 1)) {
		bpf_ringbuf_discard(ev, 0);
		count_drop(DROP_SIGNAL_TOO_BIG);
		return XDP_DROP;
	}
	bpf_ringbuf_submit(ev, 0);
	count_event(EVENT_SIGNAL);
	return XDP_DROP;
}

/* Is this IPv6 packet (at ip6h, already validated) a Mobility Header packet? */
static __always_inline int ipv6_is_mh(struct ipv6hdr *ip6h, void *data_end)
{
	struct ip_info ip;

	if (parse_ipv6(ip6h, data_end, &ip) || ipv6_skip_exthdrs(ip6h, data_end, &ip))
		return 0;
	return ip.proto == IPPROTO_MH;
}

#endif
