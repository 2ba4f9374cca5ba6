/*
 * The native half of Binding Update prediction (control/ha/prediction.ts):
 * each node's template BU and BA, and the byte work on a drain of captured
 * frames in one call. Shared with TypeScript: struct predicted, whose
 * layout control/ha/prediction.ts reads (test/ha/prediction.test.ts checks
 * it against this header's BTF, build/native/predictor-btf.o).
 */
#ifndef PREDICTOR_H
#define PREDICTOR_H

#include <linux/types.h>

/** What the predictor found of one frame: slot 0 if it is not its node's predicted BU, or fails a check. */
struct predicted {
	__u32 slot;       /* the template's (the node's binding id) */
	__u32 generation; /* the template's, as set: a BU checked against an older one is not predicted */
	__u32 ba_at;      /* its BA (an IPv6 packet) in the caller's BA buffer */
	__u16 ba_len;
	__u16 sequence;   /* the BU's */
	__u64 timestamp;  /* its Replay Protection option's, host order */
	double timestamp_ms; /* the same as Unix time in ms, rounded to the nearest (fromNtp() of control/wire/auth/replay.ts) */
};

#endif
