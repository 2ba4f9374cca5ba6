/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum helpers (RFC 1071, incremental updates per RFC 1624). */
#ifndef LIB_CSUM_H
#define LIB_CSUM_H

#include "common.h"

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of a 20-byte IPv4 header whose check field is zero. */
static __always_inline __u16 ipv4_csum(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u64 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)sizeof(*iph) / 2; i++)
		sum += w[i];
	return csum_fold(sum);
}

/* Replace 16 bits of a checksummed header: RFC 1624 eqn. 3. */
static __always_inline void csum_replace2(__u16 *check, __be16 old, __be16 new)
{
	__u32 sum = (__u16)~*check + (__u16)~old + (__u16)new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	*check = (__u16)~sum;
}

static __always_inline __u64 csum_add_addr6(__u64 sum, const __be32 *a)
{
	return sum + a[0] + a[1] + a[2] + a[3];
}

#endif
