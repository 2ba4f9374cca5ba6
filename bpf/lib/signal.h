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

/* Frames up to SIGNAL_SMALL bytes are copied by direct loads and stores.
 * Copies a frame of len (8..SIGNAL_SMALL) bytes into to, 8 bytes at a time, the last word overlapping. */
static __always_inline int copy_small_frame(struct xdp_md *ctx, __u8 *to, __u32 len)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u32 tail;

#pragma unroll
	for (int i = 0; i < SIGNAL_SMALL / 8; i++) {
		if ((i + 1) * 8 > len)
			break;
		if (data + (i + 1) * 8 > data_end)
			return -1;
		*(__u64 *)(to + i * 8) = *(__u64 *)(data + i * 8);
	}
	tail = len - 8;
	asm volatile("" : "+r"(tail));
	if (tail > SIGNAL_SMALL - 8 || data + tail + 8 > data_end)
		return -1;
	*(__u64 *)(to + tail) = *(__u64 *)(data + tail);
	return 0;
}

/* The record for a frame of len bytes, its header filled; NULL if the ring is full (counted). */
static __always_inline struct signal_event *signal_record(struct xdp_md *ctx, __u32 len)
{
	struct signal_event *ev;

	if (len <= SIGNAL_SMALL) /* two calls: the verifier needs a constant size */
		ev = bpf_ringbuf_reserve(&signals, offsetof(struct signal_event, frame) + SIGNAL_SMALL, 0);
	else
		ev = bpf_ringbuf_reserve(&signals, sizeof(*ev), 0);
	if (!ev) {
		count_drop(DROP_SIGNAL_QUEUE_FULL);
		return NULL;
	}
	ev->ifindex = ctx->ingress_ifindex;
	ev->frame_len = len;
	ev->reserved = 0;
	return ev;
}

static __always_inline int xdp_signal(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct signal_event *ev;
	int err;

	if (len > SIGNAL_MAX_FRAME || len < sizeof(struct ethhdr)) {
		count_drop(DROP_SIGNAL_TOO_BIG);
		return XDP_DROP;
	}
	ev = signal_record(ctx, len);
	if (!ev)
		return XDP_DROP;
	if (len <= SIGNAL_SMALL)
		err = copy_small_frame(ctx, ev->frame, len);
	else /* 1..SIGNAL_MAX_FRAME in a form the verifier can follow */
		err = bpf_xdp_load_bytes(ctx, 0, ev->frame, ((len - 1) & (SIGNAL_MAX_FRAME - 1)) + 1);
	if (err) {
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
