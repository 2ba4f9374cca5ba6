/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between the data plane and the control plane: every map key
 * and value, and the numbers that name tunnel formats, roles and counters.
 *
 * This header is the single source of truth for these layouts. The
 * TypeScript encoders in control/dataplane/layout.ts are checked against the
 * BTF of the compiled object (test/dataplane/layout.test.ts), and the names
 * of drop reasons and events are read from the BTF enums at run time.
 */
#ifndef ANCHOR_H
#define ANCHOR_H

#include <linux/types.h>

/* How a binding's packets travel between the anchor and the mobile side. */
enum tunnel_format {
	TUNNEL_IP6 = 1,      /* IPv6 or IPv4 in IPv6 (RFC 2473), next header 41 / 4 */
	TUNNEL_IP4 = 2,      /* IPv6 or IPv4 in IPv4, protocol 41 / 4 (RFC 2003, 4213) */
	TUNNEL_UDP4 = 3,     /* IPv6 or IPv4 in UDP in IPv4, "vanilla" (RFC 5555 4.1) */
	TUNNEL_UDP4_TLV = 4, /* as above with the 4-byte TLV header after UDP */
};

/* Which inner address selects the binding. */
enum anchor_role {
	ROLE_ANCHOR = 0, /* home agent / LMA: encapsulate by destination, accept by source */
	ROLE_MOBILE = 1, /* mobile node / router: encapsulate by source, accept by destination */
};

/* An IPv4 address sits in the first four bytes, the rest zero. */
union anchor_addr {
	__be32 v4;
	__be32 v6[4];
};

/* One binding's tunnel (see struct tunnel_slot for where it is kept). */
struct tunnel {
	__u32 binding_id;         /* index into binding_counters */
	__u8 format;              /* enum tunnel_format */
	__u8 nh_valid;            /* nh_* below were learnt from the FIB */
	__u16 mtu;                /* largest outer packet (L3) the path takes; 0: the device's */
	union anchor_addr local;  /* outer source: our tunnel endpoint */
	union anchor_addr remote; /* outer destination: the care-of (or home agent) endpoint */
	__be16 local_port;        /* UDP forms only */
	__be16 remote_port;       /* UDP forms only: the NAT-mapped port where there is a NAT */
	/* Next hop towards remote, in a copy only (zero in the slot): filled
	 * from `nexthops`, or learnt from the FIB on first use. */
	__u32 nh_ifindex;
	__u16 nh_mtu;
	__u8 nh_smac[6];
	__u8 nh_dmac[6];
	__u32 seq;                /* in a program's copy: the slot's seq it was taken at */
};

/*
 * A binding's slot in `tunnels`, by binding id (home address and prefix
 * entries hold the id). The control plane writes it in place, through the
 * map's memory mapping: the next tunnel into the copy not in use, then seq
 * one up, which puts it in use. A program copies copy[seq & 1] between two
 * reads of the same seq (tunnel_copy()), so a packet sees the old tunnel
 * or the new one, never a mix, and never waits for a writer (one stopped
 * midway holds no copy a reader reads). A copy taken stands while seq is
 * unchanged.
 */
struct tunnel_slot {
	__u32 seq;                /* writes done: copy[seq & 1] is the tunnel (format 0: none) */
	__u32 pad;
	struct tunnel copy[2];
};

/*
 * A binding's next hop as the data plane learnt it from the FIB, by binding
 * id: for the tunnel of slot version seq only. A move, or the control
 * plane's flush on any route or neighbour change (which bumps every slot's
 * seq), leaves it stale, to be learnt again. Replaced whole, never changed
 * in place: a reader on another CPU sees one whole answer.
 */
struct nexthop {
	__u32 seq;
	__u32 ifindex;
	__u16 mtu;
	__u8 smac[6];
	__u8 dmac[6];
	__u16 pad;
};

/*
 * Where a decapsulated packet for one destination went last: learnt from the
 * FIB, per CPU, valid while the config generation is unchanged. A hit also
 * says the destination was no home address at that generation.
 */
struct dest_cache_entry {
	__be32 addr[4];      /* the inner destination; IPv4 in addr[0] */
	__u32 generation;    /* anchor_config.generation when learnt; 0: empty */
	__u32 ifindex;
	__u16 mtu;           /* of the egress device and route */
	__u8 family;
	__u8 pad;
	__u8 smac[6];
	__u8 dmac[6];
};

#define DEST_CACHE_SLOTS 1024

/*
 * A binding as last looked up for one address, per CPU, valid while the
 * config generation is unchanged: the hot path's one lookup is then an
 * array read the verifier inlines, not a hash lookup (a call). Only
 * tunnels whose next hop is learnt are copied here, and "no binding"
 * answers too.
 */
struct binding_cache_entry {
	__be32 addr[4];        /* IPv4 in addr[0] */
	__u32 generation;      /* 0: empty */
	__u8 family;
	__u8 found;            /* 0: the address had no binding */
	__u16 pad;
	__u32 local_flags;     /* endpoint_flags of the tunnel's local end (address, UDP port) */
	struct tunnel tunnel;
};

#define BINDING_CACHE_SLOTS 4096


struct prefix4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct prefix6_key {
	__u32 prefixlen;
	__be32 addr[4];
};

/* An address (and UDP port, 0 for IP-in-IP) where tunnels or signalling end. */
struct endpoint_key {
	union anchor_addr addr;
	__u8 family; /* 4 or 6 */
	__u8 pad;
	__be16 port;
};

/* The endpoints map's answer for one address and port, per CPU, per generation. */
struct endpoint_cache_entry {
	struct endpoint_key key;
	__u32 generation;      /* 0: empty */
	__u32 flags;           /* enum endpoint_flags; 0: not an endpoint */
};

#define ENDPOINT_CACHE_SLOTS 256

enum endpoint_flags {
	ENDPOINT_DECAP = 1,     /* tunnelled data for our bindings arrives here */
	ENDPOINT_MH = 2,        /* IPv6 Mobility Header packets here (directly or in UDP) are signalling */
	ENDPOINT_SIGNAL = 4,    /* every packet here is signalling (MIPv4 434, PMIPv6 5436) */
};

struct anchor_config {
	__u32 role;                   /* enum anchor_role */
	__u32 generation;             /* bumped by the control plane on every binding, endpoint or route change */
	union anchor_addr icmp_src4;  /* source of ICMP errors we originate */
	union anchor_addr icmp_src6;
};

/*
 * A home link, by ifindex: there the data plane answers ARP requests and
 * Neighbor Solicitations for the home addresses of nodes that are away
 * (those with a tunnel entry), with this MAC; NAs come from this address.
 */
struct home_link {
	__u8 mac[6];
	__u8 pad[2];
	union anchor_addr ipv6;
};

/* Per binding, per CPU. "encap" is towards the mobile side. */
struct binding_counters {
	__u64 encap_packets;
	__u64 encap_bytes;
	__u64 decap_packets;
	__u64 decap_bytes;
};

/*
 * Every packet the data plane drops has a reason, and every reason a
 * counter. One list makes both the enum (for the programs) and a struct with
 * one named field per reason (so `bpftool map dump` and the control plane,
 * which reads the names from BTF, show names).
 */
#define DROP_REASONS(X)                                                                         \
	X(MALFORMED_L3, malformed_l3)                 /* truncated or inconsistent IPv4/IPv6 header */ \
	X(MALFORMED_TUNNEL, malformed_tunnel)         /* bad outer UDP length, TLV type */          \
	X(MALFORMED_INNER, malformed_inner)           /* decapsulated packet is not whole IP */     \
	X(OUTER_FRAGMENT, outer_fragment)             /* fragmented tunnel packet: no reassembly */ \
	X(UNKNOWN_INNER_SOURCE, unknown_inner_source) /* inner address of no binding */             \
	X(SPOOFED_OUTER, spoofed_outer)               /* outer address/port not the binding's */    \
	X(FORMAT_MISMATCH, format_mismatch)           /* not the binding's tunnel format */         \
	X(ECN, ecn)                                   /* outer CE over Not-ECT inner (RFC 6040) */  \
	X(TOO_BIG, too_big)                           /* too big for the tunnel: ICMP sent back */  \
	X(TOO_BIG_NO_DF, too_big_no_df)               /* too big, DF clear: we do not fragment */   \
	X(TOO_BIG_LOCAL, too_big_local)               /* host-originated and too big */             \
	X(GSO_TLV, gso_tlv)                           /* GSO cannot carry per-segment TLV length */ \
	X(NO_ROUTE, no_route)                         /* no route to a binding's remote endpoint */ \
	X(HEADROOM, headroom)                         /* no room to add or remove headers */        \
	X(SIGNAL_TOO_BIG, signal_too_big)             /* signalling frame over SIGNAL_MAX_FRAME */  \
	X(SIGNAL_QUEUE_FULL, signal_queue_full)       /* ring buffer full: control plane behind */

/* What the data plane did that is not a drop but worth seeing. */
#define EVENTS(X)                                                                               \
	X(SIGNAL, signal)                 /* signalling packet handed to the control plane */       \
	X(ICMP_SENT, icmp_sent)           /* ICMP too-big error sent to a sender */                  \
	X(STACK_NO_NEIGH, stack_no_neigh) /* handed to the stack to resolve a neighbour */           \
	X(STACK_TTL, stack_ttl)           /* hop limit expired: the stack answers */                 \
	X(STACK_ROUTE, stack_route)       /* local, unreachable or frag needed: the stack's job */   \
	X(NH_LEARNT, nh_learnt)           /* a binding's next hop learnt from the FIB */            \
	X(PROXY_ARP, proxy_arp)           /* ARP request answered for an away node's home address */ \
	X(PROXY_NA, proxy_na)             /* Neighbor Solicitation answered, likewise */            \
	X(ICMP_WITHHELD, icmp_withheld)   /* too big, no ICMP error: about one, about a later      \
					     fragment, or to a source that may get none */          \
	X(ICMP_RATE_LIMITED, icmp_rate_limited) /* too big, no ICMP error: this CPU's budget spent */ \
	X(TUNNEL_BUSY, tunnel_busy)       /* a tunnel rewritten during every try to copy it: handled as none */

#define AS_DROP_ENUM(name, field) DROP_##name,
#define AS_EVENT_ENUM(name, field) EVENT_##name,
#define AS_COUNTER(name, field) __u64 field;

enum drop_reason { DROP_REASONS(AS_DROP_ENUM) DROP__MAX };
enum event { EVENTS(AS_EVENT_ENUM) EVENT__MAX };
struct drop_counters { DROP_REASONS(AS_COUNTER) };
struct event_counters { EVENTS(AS_COUNTER) };

/* This CPU's budget of ICMP errors (RFC 4443 2.4 (f)): credit in ns, one error costing
 * NSEC_PER_SEC / ICMP_ERRORS_PER_SEC, capped at ICMP_ERRORS_BURST errors' worth. */
#define ICMP_ERRORS_PER_SEC 1000
#define ICMP_ERRORS_BURST 50
struct icmp_budget {
	__u64 stamp_ns; /* bpf_ktime_get_ns() when credit was last brought up to date */
	__u64 credit_ns;
};

/* A signalling packet, handed whole to the control plane. A ring-buffer
 * record is only as long as its frame needs: the header and SIGNAL_SMALL
 * bytes of frame for a frame up to that (every BU), the whole struct for a
 * larger one. The ring then holds ~7x more BUs, and a BU's record spans
 * 5-6 cache lines instead of 33-34. */
#define SIGNAL_MAX_FRAME 2048
#define SIGNAL_SMALL 256
struct signal_event {
	__u32 ifindex;    /* where it came in */
	__u16 frame_len;  /* bytes in frame, from the Ethernet header */
	__u16 reserved;
	__u8 frame[SIGNAL_MAX_FRAME];
};

#define MAX_BINDINGS 131072
#define MAX_HOME_ENTRIES 262144
#define MAX_PREFIXES 65536
#define MAX_ENDPOINTS 256
#define MAX_HOME_LINKS 64

#endif
