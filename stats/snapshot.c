/*
 * snapshot.c - writing, mapping and reading the token snapshot file.
 *
 * Lookups: the bucket index narrows a hash to about eight rows by its top
 * bits, a binary search finds it among them; with uniform 64-bit hashes
 * that is one or two cache lines per token.
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcore/fdio.h"
#include "fcore/xalloc.h"

#define SNAP_MAGIC "FDBSNAP1"
#define SNAP_BYTE_ORDER 0x0102030405060708ULL
#define SNAP_ROWS_PER_BUCKET 8
#define SNAP_MAX_BITS 24

struct snap_head {
	char magic[8];
	uint64_t byte_order;
	uint64_t rev;
	int64_t uid;
	uint64_t learned_spam;
	uint64_t learned_ham;
	uint64_t ntok;
	uint32_t bits;
	uint32_t reserved;
};

struct snap_row {
	uint64_t hash;
	uint32_t spam;
	uint32_t ham;
};

struct snap {
	void *map;
	size_t map_len;
	const struct snap_head *head;
	const uint32_t *index;
	const struct snap_row *rows;
};

static unsigned
index_bits(uint64_t n)
{
	unsigned b = 0;
	while (b < SNAP_MAX_BITS && (n >> (b + 1)) >= SNAP_ROWS_PER_BUCKET)
		b++;
	return b;
}

static size_t
rows_offset(unsigned bits)
{
	size_t o = sizeof(struct snap_head) + (((size_t)1 << bits) + 1) * sizeof(uint32_t);
	return (o + 7) & ~(size_t)7;
}

static size_t
bucket(uint64_t h, unsigned bits)
{
	return bits == 0 ? 0 : (size_t)(h >> (64 - bits));
}

/* ---- writing ---- */

struct rowbuf {
	struct snap_row *v;
	size_t n, cap;
};

static int
rowbuf_add(void *arg, uint64_t hash, struct store_counts c)
{
	struct rowbuf *b = arg;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 65536;
		b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	b->v[b->n++] = (struct snap_row){ .hash = hash, .spam = c.spam, .ham = c.ham };
	return 0;
}

static int
cmp_row(const void *a, const void *b)
{
	uint64_t x = ((const struct snap_row *)a)->hash, y = ((const struct snap_row *)b)->hash;
	return x < y ? -1 : x > y;
}

/* The store returns rows in signed order (negative hashes first): rotate
 * them into unsigned order, sorting only if that was not enough. */
static void
rows_unsigned_order(struct rowbuf *b)
{
	size_t k = 0;
	while (k < b->n && (b->v[k].hash >> 63) != 0)
		k++;
	if (k > 0 && k < b->n) {
		struct snap_row *r = xmalloc(b->n * sizeof(*r));
		memcpy(r, b->v + k, (b->n - k) * sizeof(*r));
		memcpy(r + (b->n - k), b->v, k * sizeof(*r));
		free(b->v);
		b->v = r;
		b->cap = b->n;
	}
	for (size_t i = 1; i < b->n; i++)
		if (b->v[i - 1].hash >= b->v[i].hash) {
			qsort(b->v, b->n, sizeof(*b->v), cmp_row);
			return;
		}
}

static uint32_t *
build_index(const struct rowbuf *b, unsigned bits)
{
	size_t nb = (size_t)1 << bits;
	uint32_t *ix = xcalloc(nb + 1, sizeof(*ix));
	size_t r = 0;
	for (size_t k = 0; k < nb; k++) {
		ix[k] = (uint32_t)r;
		while (r < b->n && bucket(b->v[r].hash, bits) == k)
			r++;
	}
	ix[nb] = (uint32_t)r;
	return ix;
}

static int
write_file(const char *path, const struct snap_head *h, const uint32_t *ix,
    const struct rowbuf *b, char *err, size_t errlen)
{
	char tmp[4096 + 32];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	static const char pad[8];
	size_t ix_len = (((size_t)1 << h->bits) + 1) * sizeof(*ix);
	size_t pad_len = rows_offset(h->bits) - sizeof(*h) - ix_len;
	/* fsync before rename: after a crash the name holds a whole file */
	int rc = !fd_write_all(fd, h, sizeof(*h)) || !fd_write_all(fd, ix, ix_len) ||
	    !fd_write_all(fd, pad, pad_len) || !fd_write_all(fd, b->v, b->n * sizeof(*b->v)) ||
	    fsync(fd) != 0 ? -1 : 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	unlink(tmp);
	return -1;
}

long
snap_write(struct store *st, int64_t uid, const char *path, char *err, size_t errlen)
{
	struct rowbuf b = { 0 };
	struct store_user u;
	struct snap_head h = { .byte_order = SNAP_BYTE_ORDER, .uid = uid };
	memcpy(h.magic, SNAP_MAGIC, sizeof(h.magic));
	if (st->ops->tokens_scan(st, uid, &h.rev, &u, rowbuf_add, &b) != 0) {
		snprintf(err, errlen, "token scan: %s", st->ops->errmsg(st));
		free(b.v);
		return -1;
	}
	if (b.n > UINT32_MAX) {
		snprintf(err, errlen, "%zu tokens: too many for a snapshot", b.n);
		free(b.v);
		return -1;
	}
	rows_unsigned_order(&b);
	h.learned_spam = u.id < 0 ? 0 : u.learned_spam;
	h.learned_ham = u.id < 0 ? 0 : u.learned_ham;
	h.ntok = b.n;
	h.bits = index_bits(b.n);
	uint32_t *ix = build_index(&b, h.bits);
	int rc = write_file(path, &h, ix, &b, err, errlen);
	free(ix);
	free(b.v);
	return rc < 0 ? -1 : (long)h.ntok;
}

/* ---- reading ---- */

static const char *
check_layout(const struct snap *s)
{
	const struct snap_head *h = s->head;
	if (memcmp(h->magic, SNAP_MAGIC, sizeof(h->magic)) != 0 || h->byte_order != SNAP_BYTE_ORDER)
		return "not a snapshot of this build";
	if (h->bits > SNAP_MAX_BITS || h->ntok > UINT32_MAX)
		return "bad header";
	if (s->map_len != rows_offset(h->bits) + h->ntok * sizeof(struct snap_row))
		return "truncated";
	size_t nb = (size_t)1 << h->bits;
	if (s->index[0] != 0 || s->index[nb] != h->ntok)
		return "bad index";
	for (size_t k = 0; k < nb; k++)
		if (s->index[k] > s->index[k + 1])
			return "bad index";
	return NULL;
}

struct snap *
snap_open(const char *path, char *err, size_t errlen)
{
	err[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat sb;
	void *map = MAP_FAILED;
	if (fstat(fd, &sb) == 0 && (size_t)sb.st_size >= sizeof(struct snap_head))
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot map it", path);
		return NULL;
	}
	struct snap *s = xcalloc(1, sizeof(*s));
	s->map = map;
	s->map_len = (size_t)sb.st_size;
	s->head = map;
	s->index = (const uint32_t *)((const char *)map + sizeof(struct snap_head));
	const char *why = check_layout(s);
	if (why != NULL) {
		snprintf(err, errlen, "%s: %s", path, why);
		snap_close(&s);
		return NULL;
	}
	s->rows = (const struct snap_row *)((const char *)map + rows_offset(s->head->bits));
	return s;
}

void
snap_close(struct snap **sp)
{
	struct snap *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	munmap(s->map, s->map_len);
	free(s);
}

uint64_t
snap_rev(const struct snap *s)
{
	return s->head->rev;
}

void
snap_user(const struct snap *s, struct store_user *u_r)
{
	u_r->id = s->head->uid;
	u_r->learned_spam = s->head->learned_spam;
	u_r->learned_ham = s->head->learned_ham;
}

static const struct snap_row *
find_row(const struct snap *s, uint64_t h)
{
	size_t k = bucket(h, s->head->bits);
	size_t lo = s->index[k], hi = s->index[k + 1];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->rows[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->index[k + 1] && s->rows[lo].hash == h ? &s->rows[lo] : NULL;
}

#define SNAP_AHEAD 8

static void
prefetch_rows(const struct snap *s, uint64_t h)
{
	size_t k = bucket(h, s->head->bits);
	size_t lo = s->index[k], hi = s->index[k + 1];
	__builtin_prefetch(&s->rows[lo]);
	if (hi > lo)
		__builtin_prefetch(&s->rows[hi - 1]);
}

void
snap_get(const struct snap *s, const uint64_t *h, size_t n, struct store_counts *out)
{
	for (size_t i = 0; i < n; i++) {
		if (i + SNAP_AHEAD < n)
			__builtin_prefetch(&s->index[bucket(h[i + SNAP_AHEAD], s->head->bits)]);
		if (i + SNAP_AHEAD / 2 < n)
			prefetch_rows(s, h[i + SNAP_AHEAD / 2]);
		const struct snap_row *r = find_row(s, h[i]);
		out[i].spam = r ? r->spam : 0;
		out[i].ham = r ? r->ham : 0;
	}
}

bool
snap_ident_update(const char *path, struct snap_ident *id)
{
	struct stat sb;
	struct snap_ident now;
	memset(&now, 0, sizeof(now));
	if (stat(path, &sb) == 0) {
		now.exists = true;
		now.dev = (uint64_t)sb.st_dev;
		now.ino = (uint64_t)sb.st_ino;
		now.size = (uint64_t)sb.st_size;
		now.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	}
	if (now.exists == id->exists && now.dev == id->dev && now.ino == id->ino &&
	    now.size == id->size && now.mtime_ns == id->mtime_ns)
		return false;
	*id = now;
	return true;
}
