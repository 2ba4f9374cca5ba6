/*
 * The data plane's signalling ring buffer (`signals`, bpf/anchor.h), drained
 * natively: a drain's records copied back to back into memory the caller
 * owns, in one call (control/dataplane/signals.ts). Through koffi, libbpf
 * called back into JavaScript for each record, and each was then copied out
 * of the ring by another koffi call: ~2-3 µs a frame, a fifth of a BU's
 * time at the rates the home agent answers.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct signals {
	struct ring_buffer *rb;
	/* the call in progress: where records go, and how far */
	uint8_t *out;
	uint32_t used, room, max_record;
	uint32_t *ends;
	uint32_t n, max;
};

/*
 * One record into out. Once the next might not fit (room for a record of
 * max_record bytes, or an end, is gone), a negative return stops libbpf
 * after this record: it has consumed the record already, so it must be
 * copied first, never refused.
 */
static int take(void *ctx, void *data, size_t size)
{
	struct signals *s = ctx;
	if (size > s->max_record) /* longer than any the data plane writes (max_record is its struct's size): never copied past out's end */
		return 0;
	memcpy(s->out + s->used, data, size);
	s->used += (uint32_t)size;
	s->ends[s->n++] = s->used;
	if (s->n == s->max || s->room - s->used < s->max_record)
		return -E2BIG;
	return 0;
}

struct signals *signals_open(int map_fd)
{
	struct signals *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->rb = ring_buffer__new(map_fd, take, s, NULL);
	if (!s->rb) {
		int err = errno;
		free(s);
		errno = err;
		return NULL;
	}
	return s;
}

int signals_epoll_fd(const struct signals *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

/*
 * The records waiting, copied into out from `at` on (room bytes in all,
 * at least max_record of them free), each one's end (from out) into ends
 * (max of them). Returns how many; *more is 1 if it stopped for want of
 * room with records perhaps still waiting. Negative: libbpf's error.
 */
int signals_take(struct signals *s, uint8_t *out, uint32_t at, uint32_t room, uint32_t max_record, uint32_t *ends, uint32_t max, int32_t *more)
{
	*more = 0;
	if (max == 0 || room < at || room - at < max_record)
		return -EINVAL;
	s->out = out;
	s->used = at;
	s->room = room;
	s->max_record = max_record;
	s->ends = ends;
	s->n = 0;
	s->max = max;
	int err = ring_buffer__consume(s->rb);
	if (err == -E2BIG) {
		*more = 1;
		err = 0;
	}
	return err < 0 ? err : (int)s->n;
}

void signals_close(struct signals *s)
{
	ring_buffer__free(s->rb);
	free(s);
}
