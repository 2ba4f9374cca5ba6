// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Programs for `make bench` (bench/run.ts). Not part of the data plane.
 *
 *   bench_xdp_tx   the baseline: swap the MACs, XDP_TX
 *   bench_redirect the limit of an XDP forwarder: MACs from a config map,
 *                  bpf_redirect, no lookup and no encapsulation
 *   bench_gen      traffic generator for BPF_F_TEST_XDP_LIVE_FRAMES: writes
 *                  its template frame every run (the kernel resets the data
 *                  pointers between runs, not the bytes), redirects it out
 *   bench_sink     the far end: counts packets and bytes per CPU, XDP_DROP
 *   bench_anchor   the anchor's XDP logic (anchor_xdp_main, compiled in from
 *                  anchor.c) followed by bench_restore(), so that every
 *                  iteration of a repeated BPF_PROG_TEST_RUN sees the same
 *                  input frame instead of the previous iteration's output
 *   bench_undo     bench_restore() alone, to subtract from bench_anchor
 *   bench_floor    the two helper calls of every tunnelling path and nothing
 *                  else (room for an outer IPv6 header, then a redirect),
 *                  wrapped like bench_anchor: what no path can go under
 *   bench_pass     nothing: the test-run harness's own cost per iteration
 *
 * anchor.c comes in whole: its maps (for which the bench reuses the pinned
 * maps of a DataPlane instance, so bindings installed through the control
 * plane's driver are the ones measured here), its programs (loaded, unused)
 * and its license.
 */
#include "anchor.c"

#define BENCH_FRAME_MAX 256

/* A frame to write into the packet, and (for the generator) where it goes. */
struct bench_frame {
	__u32 len;
	__u32 ifindex;
	__u8 bytes[BENCH_FRAME_MAX];
};

struct bench_fwd {
	__u32 ifindex;
	__u8 smac[6];
	__u8 dmac[6];
};

struct bench_sink_counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_fwd);
} bench_fwd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_frame);
} bench_gen_frame SEC(".maps");

/* The input frame of the path being measured, restored after every iteration. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_frame);
} bench_input SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_sink_counters);
} bench_sink_counters SEC(".maps");

SEC("xdp")
int bench_xdp_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[6];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, tmp, 6);
	return XDP_TX;
}

SEC("xdp")
int bench_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 zero = 0;
	struct bench_fwd *fwd = bpf_map_lookup_elem(&bench_fwd, &zero);

	if (!fwd || (void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, fwd->dmac, 6);
	__builtin_memcpy(eth->h_source, fwd->smac, 6);
	return bpf_redirect(fwd->ifindex, 0);
}

/* The packet's length, as a scalar the compiler cannot reassociate with
 * another reading of it (the verifier refuses pointer + pointer). */
static __always_inline int packet_len(struct xdp_md *ctx)
{
	__u64 end = ctx->data_end, start = ctx->data;

	asm volatile("%0 -= %1" : "+r"(end) : "r"(start));
	return (int)end;
}

/*
 * Writes frame f over the start of the packet (at least as long), 8 bytes
 * at a time; the last word ends at the frame's end and may overlap the one
 * before. Direct packet stores cost a tenth of a bpf_xdp_store_bytes call.
 */
static __always_inline int copy_frame(struct xdp_md *ctx, const struct bench_frame *f)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u32 len = f->len, tail;

	if (len < 8 || len > BENCH_FRAME_MAX)
		return -1;
#pragma unroll
	for (int i = 0; i < BENCH_FRAME_MAX / 8; i++) {
		if ((i + 1) * 8 > len)
			break;
		if (data + (i + 1) * 8 > data_end)
			return -1;
		((__u64 *)data)[i] = ((const __u64 *)f->bytes)[i];
	}
	tail = len - 8;
	asm volatile("" : "+r"(tail));
	if (tail > BENCH_FRAME_MAX - 8 || data + tail + 8 > data_end)
		return -1;
	*(__u64 *)(data + tail) = *(const __u64 *)(f->bytes + tail);
	return 0;
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct bench_frame *f = bpf_map_lookup_elem(&bench_gen_frame, &zero);

	if (!f || copy_frame(ctx, f))
		return XDP_ABORTED;
	return bpf_redirect(f->ifindex, 0);
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct bench_sink_counters *c = bpf_map_lookup_elem(&bench_sink_counters, &zero);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

/*
 * Undoes whatever the measured program did to the frame: moves the start of
 * the packet back by as many bytes as the frame grew (encapsulation) or
 * shrank (decapsulation), with one bpf_xdp_adjust_head, then writes the
 * whole input frame over it again, which also restores the MACs, the inner
 * TTL and checksum and any outer header.
 */
static __always_inline int bench_restore(struct xdp_md *ctx, int len0)
{
	__u32 zero = 0;
	struct bench_frame *f = bpf_map_lookup_elem(&bench_input, &zero);
	int grown = packet_len(ctx) - len0;

	if (!f || bpf_xdp_adjust_head(ctx, grown))
		return -1;
	return copy_frame(ctx, f);
}

SEC("xdp")
int bench_anchor(struct xdp_md *ctx)
{
	int len0 = packet_len(ctx);
	int verdict = anchor_xdp_main(ctx);

	return bench_restore(ctx, len0) ? XDP_ABORTED : verdict;
}

SEC("xdp")
int bench_floor(struct xdp_md *ctx)
{
	int len0 = packet_len(ctx);
	__u32 zero = 0;
	struct bench_fwd *fwd = bpf_map_lookup_elem(&bench_fwd, &zero);
	int verdict;

	if (!fwd || bpf_xdp_adjust_head(ctx, -(int)sizeof(struct ipv6hdr)))
		return XDP_ABORTED;
	verdict = bpf_redirect(fwd->ifindex, 0);
	return bench_restore(ctx, len0) ? XDP_ABORTED : verdict;
}

SEC("xdp")
int bench_undo(struct xdp_md *ctx)
{
	int len0 = packet_len(ctx);

	return bench_restore(ctx, len0) ? XDP_ABORTED : XDP_PASS;
}

/* Nothing: what BPF_PROG_TEST_RUN itself costs per iteration. */
SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
