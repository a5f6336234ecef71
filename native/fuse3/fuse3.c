/*
 * memweave's binding to libfuse 3's low-level API (fuse_lowlevel.h).
 *
 * /dev/fuse is watched by the Node event loop itself (a uv_poll handle on
 * the non-blocking descriptor): when the kernel has requests, the poll
 * callback reads every one that is waiting (fuse_session_receive_buf, then
 * fuse_session_process_buf, whose callbacks only queue the request), and
 * hands the whole queue to JavaScript in one call: several kernel requests
 * per event-loop turn, as one Float64Array of fixed records. No thread sits
 * between the kernel and the event loop (a libfuse thread handing each
 * request over costs a second wake-up per request). JavaScript answers each
 * request with reply* functions, which call fuse_reply_* at once (a read is
 * answered from the JS buffer itself: fuse_reply_buf writes it to
 * /dev/fuse, no copy here); answers given in the same turn reach the kernel
 * before the event loop sleeps again.
 *
 * Requests get a slot number: a reply names its slot, and a slot answered
 * twice or never given is an error thrown in JavaScript, never a freed
 * fuse_req_t used again.
 *
 * Reads answered here, without JavaScript: when JS opens a file whose bytes
 * lie in one plain file (an in-process image), it registers the file's map
 * for that fh (directReads: extents of a duplicate of the fd, and zeros)
 * with a lease. A READ of a registered fh whose lease holds is then
 * answered inside the poll callback (pread into the kept buffer, written to
 * /dev/fuse) and never queued; anything the map cannot answer exactly (an
 * address no extent covers, an offset past 2^53, a failed or short pread, a
 * lapsed lease) goes to JS like any other request, which answers it the
 * usual way (and renews the lease after its own staleness check). JS drops
 * the registration when the file is released, the object behind it ends or
 * the tree goes; destroy() drops whatever is left.
 *
 * The session ends when the kernel says the connection is gone (ENODEV on
 * /dev/fuse: unmounted and every file released); an END record is then
 * delivered and JavaScript calls destroy(), which closes /dev/fuse.
 */
#define FUSE_USE_VERSION 314
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "../include/napi-args.h"

/* Operation codes, mirrored in src/addons/fuse3-addon.ts. */
enum {
  OP_END = 0, OP_LOOKUP = 1, OP_FORGET = 2, OP_GETATTR = 3, OP_SETATTR = 4, OP_OPEN = 5, OP_READ = 6, OP_WRITE = 7,
  OP_RELEASE = 8, OP_OPENDIR = 9, OP_READDIR = 10, OP_RELEASEDIR = 11, OP_STATFS = 12, OP_CREATE = 13, OP_MKNOD = 14,
};

/* One record per request in the batch: slot, op, ino, fh, off, size, flags, extra. */
#define RECORD 8

struct request {
  struct request *next;
  fuse_req_t req;
  int op;
  uint64_t ino;
  uint64_t fh;
  int64_t off;
  uint64_t size;
  int flags;
  int extra;
  char *name;  /* lookup/create/mknod: copied out of libfuse's buffer */
  char *data;  /* write: copied (the loop reuses its buffer for the next request) */
};

/* [addr, addr + length) of a registered file: at pos of its fd, or (pos < 0) zeros. */
struct extent {
  uint64_t addr, length;
  int64_t pos;
};

/* A file whose reads are answered here (see the comment at the top). */
struct direct {
  uint64_t fh;
  int fd;                 /* our duplicate of the source's fd */
  uint64_t size;          /* reads at or past it are empty (the leaf's extent) */
  uint64_t lease_until;   /* CLOCK_MONOTONIC ns; afterwards reads go to JS until renewed */
  size_t count;
  struct extent *extents; /* sorted, not overlapping */
};

struct mount {
  struct fuse_session *se;
  napi_env env;
  uv_poll_t poll;
  struct fuse_buf buf;
  int ended;
  char *mountpoint;
  napi_ref callback;
  napi_async_context async_context;
  struct request *head, *tail;
  char *scratch; /* answers from file spans are read here */
  size_t scratch_size;
  fuse_req_t *slots;
  uint32_t *free_slots;
  uint32_t slot_count, free_count;
  int destroyed;
  struct direct **direct;
  size_t direct_count, direct_cap;
  double direct_reads; /* reads answered here, for tests and the bench */
};

/* Offsets past this (Number.MAX_SAFE_INTEGER) are not exact as doubles: JS answers them (EOVERFLOW). */
#define MAX_EXACT_OFFSET 9007199254740991ULL

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct direct *direct_find(struct mount *m, uint64_t fh, size_t *index) {
  for (size_t i = 0; i < m->direct_count; i++) {
    if (m->direct[i]->fh == fh) { if (index) *index = i; return m->direct[i]; }
  }
  return NULL;
}

static void direct_free(struct direct *d) {
  if (d->fd >= 0) close(d->fd);
  free(d->extents);
  free(d);
}

static void direct_drop(struct mount *m, uint64_t fh) {
  size_t i = 0;
  struct direct *d = direct_find(m, fh, &i);
  if (d == NULL) return;
  m->direct[i] = m->direct[--m->direct_count];
  direct_free(d);
}

/* The extent holding addr (binary search), or NULL. */
static const struct extent *extent_at(const struct direct *d, uint64_t addr) {
  size_t lo = 0, hi = d->count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const struct extent *e = &d->extents[mid];
    if (addr < e->addr) hi = mid;
    else if (addr - e->addr >= e->length) lo = mid + 1;
    else return e;
  }
  return NULL;
}

static int grow_scratch(struct mount *m, size_t size) {
  if (size <= m->scratch_size) return 1;
  char *grown = malloc(size);
  if (grown == NULL) return 0;
  free(m->scratch);
  m->scratch = grown;
  m->scratch_size = size;
  return 1;
}

/* Answers a READ from the fh's map: 1 when answered, 0 when JS must (see the comment at the top). */
static int direct_read(struct mount *m, fuse_req_t req, uint64_t fh, size_t size, off_t off) {
  if (m->direct_count == 0) return 0;
  struct direct *d = direct_find(m, fh, NULL);
  if (d == NULL || off < 0 || (uint64_t)off > MAX_EXACT_OFFSET || now_ns() >= d->lease_until) return 0;
  uint64_t addr = (uint64_t)off;
  if (addr >= d->size) { fuse_reply_buf(req, NULL, 0); m->direct_reads++; return 1; }
  size_t want = size < d->size - addr ? size : (size_t)(d->size - addr);
  if (!grow_scratch(m, want)) return 0;
  size_t used = 0;
  while (used < want) {
    const struct extent *e = extent_at(d, addr + used);
    if (e == NULL) return 0;
    uint64_t into = addr + used - e->addr;
    size_t n = want - used;
    if (e->length - into < n) n = (size_t)(e->length - into);
    if (e->pos < 0) { memset(m->scratch + used, 0, n); used += n; continue; }
    size_t done = 0;
    while (done < n) {
      ssize_t got = pread(d->fd, m->scratch + used + done, n - done, e->pos + (off_t)(into + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return 0; /* an error or the file ending early: JS answers (and says why) */
      done += (size_t)got;
    }
    used += n;
  }
  fuse_reply_buf(req, m->scratch, want);
  m->direct_reads++;
  return 1;
}

static void enqueue(struct mount *m, struct request *r) {
  r->next = NULL;
  if (m->tail) m->tail->next = r; else m->head = r;
  m->tail = r;
}

static struct request *new_request(fuse_req_t req, int op, fuse_ino_t ino) {
  struct request *r = calloc(1, sizeof *r);
  if (r == NULL) { if (req) fuse_reply_err(req, ENOMEM); return NULL; }
  r->req = req;
  r->op = op;
  r->ino = ino;
  return r;
}

static struct mount *mount_of(fuse_req_t req) { return fuse_req_userdata(req); }

static void with_name(fuse_req_t req, int op, fuse_ino_t parent, const char *name, int flags) {
  struct request *r = new_request(req, op, parent);
  if (r == NULL) return;
  r->name = strdup(name);
  r->flags = flags;
  if (r->name == NULL) { free(r); fuse_reply_err(req, ENOMEM); return; }
  enqueue(mount_of(req), r);
}

static void ll_init(void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  /* max_pages follows max_write (libfuse keeps it within its 1 MiB + header buffer); max_read comes
     from the -o max_read option (libfuse refuses an init that disagrees with it). */
  conn->max_write = 1 << 20;
  conn->max_readahead = 1 << 20;
  conn->max_background = 64;
  /* Replies are written from memory (replySpans reads into a kept buffer): no splice. */
  conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  /* O_TRUNC stays a separate truncate (setattr), as with libfuse 2: memory refuses it (EPERM), never
     a write-open that silently keeps the bytes. */
  conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
  conn->congestion_threshold = 48;
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) { with_name(req, OP_LOOKUP, parent, name, 0); }

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  struct mount *m = mount_of(req);
  fuse_reply_none(req);
  struct request *r = new_request(NULL, OP_FORGET, ino);
  if (r == NULL) return;
  r->size = nlookup;
  enqueue(m, r);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  struct mount *m = mount_of(req);
  for (size_t i = 0; i < count; i++) {
    struct request *r = new_request(NULL, OP_FORGET, forgets[i].ino);
    if (r == NULL) break;
    r->size = forgets[i].nlookup;
    enqueue(m, r);
  }
  fuse_reply_none(req);
}

static void with_fi(fuse_req_t req, int op, fuse_ino_t ino, struct fuse_file_info *fi) {
  struct request *r = new_request(req, op, ino);
  if (r == NULL) return;
  if (fi != NULL) { r->fh = fi->fh; r->flags = fi->flags; r->extra = 1; }
  enqueue(mount_of(req), r);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { with_fi(req, OP_GETATTR, ino, fi); }
static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { with_fi(req, OP_OPEN, ino, fi); }
static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { with_fi(req, OP_RELEASE, ino, fi); }
static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { with_fi(req, OP_OPENDIR, ino, fi); }
static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) { with_fi(req, OP_RELEASEDIR, ino, fi); }

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  struct request *r = new_request(req, OP_SETATTR, ino);
  if (r == NULL) return;
  r->flags = to_set;
  r->off = attr->st_size;
  if (fi != NULL) { r->fh = fi->fh; r->extra = 1; }
  enqueue(mount_of(req), r);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  if (direct_read(mount_of(req), req, fi->fh, size, off)) return;
  struct request *r = new_request(req, OP_READ, ino);
  if (r == NULL) return;
  r->fh = fi->fh;
  r->off = off;
  r->size = size;
  enqueue(mount_of(req), r);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  struct request *r = new_request(req, OP_WRITE, ino);
  if (r == NULL) return;
  r->data = malloc(size > 0 ? size : 1);
  if (r->data == NULL) { free(r); fuse_reply_err(req, ENOMEM); return; }
  memcpy(r->data, buf, size);
  r->fh = fi->fh;
  r->off = off;
  r->size = size;
  enqueue(mount_of(req), r);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  struct request *r = new_request(req, OP_READDIR, ino);
  if (r == NULL) return;
  r->fh = fi->fh;
  r->off = off;
  r->size = size;
  enqueue(mount_of(req), r);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino) { with_fi(req, OP_STATFS, ino, NULL); }

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  (void)mode;
  with_name(req, OP_CREATE, parent, name, fi->flags);
}

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  (void)rdev;
  with_name(req, OP_MKNOD, parent, name, (int)mode);
}

static const struct fuse_lowlevel_ops OPS = {
  .init = ll_init, .lookup = ll_lookup, .forget = ll_forget, .forget_multi = ll_forget_multi, .getattr = ll_getattr,
  .setattr = ll_setattr, .open = ll_open, .read = ll_read, .write = ll_write, .release = ll_release,
  .opendir = ll_opendir, .readdir = ll_readdir, .releasedir = ll_releasedir, .statfs = ll_statfs,
  .create = ll_create, .mknod = ll_mknod,
};

/* ---- N-API helpers ---- */

#define CHECK(env, call) do { if ((call) != napi_ok) { napi_throw_error((env), NULL, "N-API call failed: " #call); return NULL; } } while (0)

static napi_value throw_error(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static struct mount *get_mount(napi_env env, napi_value value) {
  struct mount *m = NULL;
  if (napi_get_value_external(env, value, (void **)&m) != napi_ok || m == NULL) {
    napi_throw_type_error(env, NULL, "not a fuse3 mount handle");
    return NULL;
  }
  return m;
}

/* The first n arguments, the first being a mount handle: the mount, or NULL with a JS exception. */
static struct mount *handle_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  if (!get_args(env, info, n, argv)) return NULL;
  return get_mount(env, argv[0]);
}

/* A Float64Array of at least `min` numbers: its data, or NULL with a JS exception. */
static double *float64s(napi_env env, napi_value value, size_t min, size_t *length, const char *what) {
  double *data = NULL;
  size_t n = 0, offset = 0;
  napi_typedarray_type type;
  napi_value ab;
  if (napi_get_typedarray_info(env, value, &type, &n, (void **)&data, &ab, &offset) != napi_ok || type != napi_float64_array || n < min) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  if (length != NULL) *length = n;
  return data;
}

static double get_double(napi_env env, napi_value value) {
  double d = 0;
  napi_get_value_double(env, value, &d);
  return d;
}

static uint32_t slot_put(struct mount *m, fuse_req_t req) {
  if (m->free_count > 0) {
    uint32_t slot = m->free_slots[--m->free_count];
    m->slots[slot] = req;
    return slot;
  }
  if ((m->slot_count & (m->slot_count - 1)) == 0 || m->slot_count == 0) {
    uint32_t cap = m->slot_count == 0 ? 64 : m->slot_count * 2;
    fuse_req_t *slots = realloc(m->slots, cap * sizeof *slots);
    uint32_t *free_slots = realloc(m->free_slots, cap * sizeof *free_slots);
    if (slots == NULL || free_slots == NULL) abort();
    m->slots = slots;
    m->free_slots = free_slots;
  }
  m->slots[m->slot_count] = req;
  return m->slot_count++;
}

/* Takes the request out of its slot; NULL (with a JS exception) if the slot is not live. */
static fuse_req_t slot_take(napi_env env, struct mount *m, napi_value value) {
  double d = get_double(env, value);
  if (!(d >= 0 && d < m->slot_count) || m->slots[(uint32_t)d] == NULL) {
    napi_throw_error(env, "ERR_FUSE3_SLOT", "this request was already answered (or never existed)");
    return NULL;
  }
  uint32_t slot = (uint32_t)d;
  fuse_req_t req = m->slots[slot];
  m->slots[slot] = NULL;
  m->free_slots[m->free_count++] = slot;
  /* The session is gone (a connection aborted under a request JS still held): nobody to answer. */
  if (m->destroyed) return NULL;
  return req;
}

static void free_data(napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

/* Hands every queued request to JS as one batch (inside a handle scope opened by the caller). */
static void deliver(struct mount *m) {
  napi_env env = m->env;
  struct request *list = m->head;
  m->head = m->tail = NULL;
  if (list == NULL) return;
  size_t count = 0;
  for (struct request *r = list; r; r = r->next) count++;
  napi_value buffer, records, extras = NULL;
  double *rec = NULL;
  if (napi_create_arraybuffer(env, count * RECORD * sizeof(double), (void **)&rec, &buffer) != napi_ok) return;
  napi_create_typedarray(env, napi_float64_array, count * RECORD, buffer, 0, &records);
  size_t i = 0;
  while (list) {
    struct request *r = list;
    list = r->next;
    double *o = rec + i * RECORD;
    o[0] = r->req != NULL ? (double)slot_put(m, r->req) : -1;
    o[1] = r->op;
    o[2] = (double)r->ino;
    o[3] = (double)r->fh;
    o[4] = (double)r->off;
    o[5] = (double)r->size;
    o[6] = r->flags;
    o[7] = r->extra;
    if (r->name != NULL || r->data != NULL) {
      if (extras == NULL) napi_create_array_with_length(env, count, &extras);
      napi_value v;
      if (r->name != NULL) {
        napi_create_string_utf8(env, r->name, NAPI_AUTO_LENGTH, &v);
        free(r->name);
      } else if (napi_create_external_buffer(env, r->size, r->data, free_data, NULL, &v) != napi_ok) {
        free(r->data);
        napi_get_undefined(env, &v);
      }
      napi_set_element(env, extras, (uint32_t)i, v);
    }
    free(r);
    i++;
  }
  napi_value argv[2] = { records, extras != NULL ? extras : undefined(env) };
  napi_value global, js_cb, result;
  napi_get_global(env, &global);
  napi_get_reference_value(env, m->callback, &js_cb);
  /* make_callback: promise jobs the batch starts run before this returns (answers go out this turn). */
  if (napi_make_callback(env, m->async_context, global, js_cb, 2, argv, &result) == napi_pending_exception) {
    /* The dispatcher catches per request; anything escaping it is reported as uncaught, the mount lives on. */
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static void closed(uv_handle_t *handle) { (void)handle; }

/* /dev/fuse is readable: take every waiting request, then hand them over in one batch. */
static void readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  struct mount *m = poll->data;
  for (int i = 0; i < 256 && status == 0; i++) {
    int res = fuse_session_receive_buf(m->se, &m->buf);
    if (res == -EAGAIN) break;
    if (res == -EINTR) continue;
    if (res <= 0 || fuse_session_exited(m->se)) {
      /* ENODEV (0 with the session exited): the connection is gone. */
      m->ended = 1;
      break;
    }
    fuse_session_process_buf(m->se, &m->buf);
  }
  if (status < 0) m->ended = 1;
  if (m->ended) {
    uv_poll_stop(&m->poll);
    struct request *r = new_request(NULL, OP_END, 0);
    if (r != NULL) enqueue(m, r);
  }
  if (m->head == NULL) return; /* every request was answered here */
  napi_handle_scope scope;
  napi_open_handle_scope(m->env, &scope);
  deliver(m);
  napi_close_handle_scope(m->env, scope);
}

/* mount(mountpoint, options: string[], onBatch) → handle */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  size_t len = 0;
  CHECK(env, napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  char *mountpoint = malloc(len + 1);
  if (mountpoint == NULL) return throw_error(env, "ENOMEM", "out of memory");
  napi_get_value_string_utf8(env, argv[0], mountpoint, len + 1, &len);

  uint32_t optc = 0;
  CHECK(env, napi_get_array_length(env, argv[1], &optc));
  char **args = calloc(optc + 2, sizeof *args);
  if (args == NULL) { free(mountpoint); return throw_error(env, "ENOMEM", "out of memory"); }
  args[0] = strdup("memweave");
  for (uint32_t i = 0; i < optc; i++) {
    napi_value el;
    size_t n = 0;
    napi_get_element(env, argv[1], i, &el);
    napi_get_value_string_utf8(env, el, NULL, 0, &n);
    args[i + 1] = malloc(n + 1);
    napi_get_value_string_utf8(env, el, args[i + 1], n + 1, &n);
  }
  struct fuse_args fargs = FUSE_ARGS_INIT((int)optc + 1, args);
  struct mount *m = calloc(1, sizeof *m);
  m->env = env;
  m->mountpoint = mountpoint;
  m->se = fuse_session_new(&fargs, &OPS, sizeof OPS, m);
  fuse_opt_free_args(&fargs);
  for (uint32_t i = 0; i < optc + 1; i++) free(args[i]);
  free(args);
  if (m->se == NULL) {
    free(mountpoint);
    free(m);
    return throw_error(env, "ERR_FUSE3_SESSION", "libfuse3 refused the mount options (see stderr)");
  }
  if (fuse_session_mount(m->se, mountpoint) != 0) {
    int err = errno;
    fuse_session_destroy(m->se);
    free(mountpoint);
    free(m);
    char message[256];
    snprintf(message, sizeof message, "libfuse3 could not mount (%s)", strerror(err));
    return throw_error(env, "ERR_FUSE3_MOUNT", message);
  }
  int fd = fuse_session_fd(m->se);
  fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  napi_value name;
  uv_loop_t *loop = NULL;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  CHECK(env, napi_create_reference(env, argv[2], 1, &m->callback));
  napi_create_string_utf8(env, "memweave-fuse3", NAPI_AUTO_LENGTH, &name);
  CHECK(env, napi_async_init(env, NULL, name, &m->async_context));
  m->poll.data = m;
  if (uv_poll_init(loop, &m->poll, fd) != 0 || uv_poll_start(&m->poll, UV_READABLE, readable) != 0) {
    return throw_error(env, "ERR_FUSE3_POLL", "cannot watch /dev/fuse on the event loop");
  }
  napi_value handle;
  CHECK(env, napi_create_external(env, m, NULL, NULL, &handle));
  return handle;
}

/* unmount(handle) → 0 or errno: a lazy umount2 (root); callers use fusermount3 -u -z otherwise. */
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct mount *m = handle_args(env, info, 1, argv);
  if (m == NULL) return NULL;
  int res = umount2(m->mountpoint, MNT_DETACH) == 0 ? 0 : errno;
  napi_value out;
  napi_create_int32(env, res, &out);
  return out;
}

/* unref(handle): the session no longer keeps the event loop alive (after unmount). */
static napi_value js_unref(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct mount *m = handle_args(env, info, 1, argv);
  if (m == NULL) return NULL;
  if (!m->destroyed) uv_unref((uv_handle_t *)&m->poll);
  return undefined(env);
}

/* destroy(handle): after the END record: closes /dev/fuse. */
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct mount *m = handle_args(env, info, 1, argv);
  if (m == NULL) return NULL;
  if (m->destroyed) return undefined(env);
  if (!m->ended) return throw_error(env, "ERR_FUSE3_BUSY", "the session is still running");
  m->destroyed = 1;
  uv_close((uv_handle_t *)&m->poll, closed);
  napi_delete_reference(env, m->callback);
  napi_async_destroy(env, m->async_context);
  free(m->buf.mem);
  m->buf.mem = NULL;
  free(m->scratch);
  m->scratch = NULL;
  m->scratch_size = 0;
  while (m->direct_count > 0) direct_free(m->direct[--m->direct_count]);
  free(m->direct);
  m->direct = NULL;
  fuse_session_destroy(m->se);
  m->se = NULL;
  return undefined(env);
}

/* replyErr(handle, slot, errno) and replyWrite(handle, slot, count): a request answered with one number. */
static napi_value reply_number(napi_env env, napi_callback_info info, int (*reply)(fuse_req_t, double)) {
  napi_value argv[3];
  struct mount *m = handle_args(env, info, 3, argv);
  if (m == NULL) return NULL;
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) return NULL;
  reply(req, get_double(env, argv[2]));
  return undefined(env);
}

static int reply_err(fuse_req_t req, double errno_) { return fuse_reply_err(req, (int)errno_); }
static int reply_write(fuse_req_t req, double count) { return fuse_reply_write(req, (size_t)count); }
static napi_value js_reply_err(napi_env env, napi_callback_info info) { return reply_number(env, info, reply_err); }
static napi_value js_reply_write(napi_env env, napi_callback_info info) { return reply_number(env, info, reply_write); }

/* replyBuf(handle, slot, data: Uint8Array, length) */
static napi_value js_reply_buf(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct mount *m = handle_args(env, info, 4, argv);
  if (m == NULL) return NULL;
  void *data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  size_t offset = 0;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "replyBuf needs a Uint8Array");
    return NULL;
  }
  double want = get_double(env, argv[3]);
  if (!(want >= 0 && want <= (double)length)) return throw_error(env, "ERR_FUSE3_RANGE", "reply length past the buffer");
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) return NULL;
  fuse_reply_buf(req, data, (size_t)want);
  return undefined(env);
}

/*
 * replySpans(handle, slot, spans: Float64Array of [fd, pos, length] triples; fd -1 = zeros): the answer is
 * read from the files into the mount's scratch buffer and written to /dev/fuse, never through a JS buffer.
 * The scratch buffer is kept (fresh memory per answer costs a page fault per page; libfuse's own
 * fuse_reply_data takes fresh memory each time, and splicing a page-cache file measured slower still).
 * A file that ends early gives a short answer; one that cannot be read, its errno.
 */
static napi_value js_reply_spans(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct mount *m = handle_args(env, info, 3, argv);
  if (m == NULL) return NULL;
  size_t n = 0;
  double *a = float64s(env, argv[2], 0, &n, "replySpans needs a Float64Array of [fd, pos, length] triples");
  if (a == NULL) return NULL;
  size_t total = 0;
  for (size_t i = 0; i + 2 < n; i += 3) total += (size_t)a[i + 2];
  if (!grow_scratch(m, total)) return throw_error(env, "ENOMEM", "out of memory");
  size_t used = 0;
  int err = 0;
  for (size_t i = 0; i + 2 < n && err == 0; i += 3) {
    size_t length = (size_t)a[i + 2];
    if (a[i] < 0) { memset(m->scratch + used, 0, length); used += length; continue; }
    int fd = (int)a[i];
    off_t pos = (off_t)a[i + 1];
    size_t done = 0;
    while (done < length) {
      ssize_t got = pread(fd, m->scratch + used + done, length - done, pos + (off_t)done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) { err = errno; break; }
      if (got == 0) break;
      done += (size_t)got;
    }
    used += done;
    if (done < length) break; /* the file ends here: a short answer */
  }
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) return NULL;
  if (err != 0) fuse_reply_err(req, err);
  else fuse_reply_buf(req, m->scratch, used);
  return undefined(env);
}

static int fill_stat(napi_env env, napi_value array, struct stat *st) {
  double *a = float64s(env, array, 11, NULL, "a stat is a Float64Array of 11 numbers");
  if (a == NULL) return 0;
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t)a[0];
  st->st_mode = (mode_t)a[1];
  st->st_nlink = (nlink_t)a[2];
  st->st_uid = (uid_t)a[3];
  st->st_gid = (gid_t)a[4];
  st->st_size = (off_t)a[5];
  st->st_blksize = (blksize_t)a[6];
  st->st_blocks = (blkcnt_t)a[7];
  double times[3] = { a[8], a[9], a[10] };
  struct timespec *ts[3] = { &st->st_atim, &st->st_mtim, &st->st_ctim };
  for (int i = 0; i < 3; i++) {
    ts[i]->tv_sec = (time_t)(times[i] / 1000);
    ts[i]->tv_nsec = (long)((times[i] - (double)ts[i]->tv_sec * 1000) * 1e6);
  }
  return 1;
}

/* replyEntry(handle, slot, stat, entryTimeoutS, attrTimeoutS): st_ino of the stat is the entry's inode (0: negative). */
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  struct mount *m = handle_args(env, info, 5, argv);
  if (m == NULL) return NULL;
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  if (!fill_stat(env, argv[2], &e.attr)) return NULL;
  e.ino = e.attr.st_ino;
  e.generation = 1;
  e.entry_timeout = get_double(env, argv[3]);
  e.attr_timeout = get_double(env, argv[4]);
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) return NULL;
  fuse_reply_entry(req, &e);
  return undefined(env);
}

/* replyAttr(handle, slot, stat, attrTimeoutS) */
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct mount *m = handle_args(env, info, 4, argv);
  if (m == NULL) return NULL;
  struct stat st;
  if (!fill_stat(env, argv[2], &st)) return NULL;
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) return NULL;
  fuse_reply_attr(req, &st, get_double(env, argv[3]));
  return undefined(env);
}

/* replyOpen(handle, slot, fh, directIo) */
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct mount *m = handle_args(env, info, 4, argv);
  if (m == NULL) return NULL;
  bool direct = false;
  napi_get_value_bool(env, argv[3], &direct);
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t)get_double(env, argv[2]);
  fi.direct_io = direct ? 1 : 0;
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) return NULL;
  fuse_reply_open(req, &fi);
  return undefined(env);
}

/* replyStatfs(handle, slot, [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax]) */
static napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct mount *m = handle_args(env, info, 3, argv);
  if (m == NULL) return NULL;
  double *a = float64s(env, argv[2], 11, NULL, "a statfs is a Float64Array of 11 numbers");
  if (a == NULL) return NULL;
  struct statvfs s;
  memset(&s, 0, sizeof s);
  s.f_bsize = (unsigned long)a[0];
  s.f_frsize = (unsigned long)a[1];
  s.f_blocks = (fsblkcnt_t)a[2];
  s.f_bfree = (fsblkcnt_t)a[3];
  s.f_bavail = (fsblkcnt_t)a[4];
  s.f_files = (fsfilcnt_t)a[5];
  s.f_ffree = (fsfilcnt_t)a[6];
  s.f_favail = (fsfilcnt_t)a[7];
  s.f_fsid = (unsigned long)a[8];
  s.f_flag = (unsigned long)a[9];
  s.f_namemax = (unsigned long)a[10];
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) return NULL;
  fuse_reply_statfs(req, &s);
  return undefined(env);
}

/*
 * replyDir(handle, slot, names: string[], inos: Float64Array, from, size): the entries from index `from`
 * that fit in `size` bytes; each entry's offset is its index + 1.
 */
static napi_value js_reply_dir(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  struct mount *m = handle_args(env, info, 6, argv);
  if (m == NULL) return NULL;
  uint32_t count = 0;
  CHECK(env, napi_get_array_length(env, argv[2], &count));
  double *inos = float64s(env, argv[3], count, NULL, "replyDir needs one inode per name");
  if (inos == NULL) return NULL;
  double from = get_double(env, argv[4]);
  size_t size = (size_t)get_double(env, argv[5]);
  char *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL) return throw_error(env, "ENOMEM", "out of memory");
  fuse_req_t req = slot_take(env, m, argv[1]);
  if (req == NULL) { free(buf); return NULL; }
  size_t used = 0;
  char name[1024];
  for (uint32_t i = from < 0 ? 0 : (uint32_t)from; i < count; i++) {
    napi_value el;
    size_t n = 0;
    napi_get_element(env, argv[2], i, &el);
    if (napi_get_value_string_utf8(env, el, name, sizeof name, &n) != napi_ok) continue;
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = (ino_t)inos[i];
    size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)i + 1);
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf, used);
  free(buf);
  return undefined(env);
}

/*
 * directReads(handle, fh, fd, size, extents: Float64Array of [addr, length, pos] triples (pos -1: zeros), leaseMs):
 * reads of fh are answered here from a duplicate of fd while the lease holds (replacing any map fh had).
 */
static napi_value js_direct_reads(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  struct mount *m = handle_args(env, info, 6, argv);
  if (m == NULL) return NULL;
  if (m->destroyed) return throw_error(env, "ERR_FUSE3_ENDED", "the session has ended");
  size_t n = 0;
  double *a = float64s(env, argv[4], 0, &n, "directReads needs a Float64Array of [addr, length, pos] triples");
  if (a == NULL) return NULL;
  double fh = get_double(env, argv[1]), fd = get_double(env, argv[2]), size = get_double(env, argv[3]), lease = get_double(env, argv[5]);
  if (!(fh >= 0) || !(fd >= 0) || !(size >= 0 && size <= (double)MAX_EXACT_OFFSET) || !(lease >= 0) || n % 3 != 0) {
    return throw_error(env, "ERR_FUSE3_RANGE", "directReads: bad fh, fd, size, lease or extents");
  }
  size_t count = n / 3;
  struct extent *extents = malloc((count > 0 ? count : 1) * sizeof *extents);
  if (extents == NULL) return throw_error(env, "ENOMEM", "out of memory");
  for (size_t i = 0; i < count; i++) {
    double addr = a[i * 3], length = a[i * 3 + 1], pos = a[i * 3 + 2];
    int sorted = i == 0 || addr >= (double)(extents[i - 1].addr + extents[i - 1].length);
    if (!(addr >= 0 && length > 0 && addr + length <= (double)MAX_EXACT_OFFSET && pos >= -1) || !sorted) {
      free(extents);
      return throw_error(env, "ERR_FUSE3_RANGE", "directReads: extents must be sorted, not overlapping, and within 2^53");
    }
    extents[i] = (struct extent){ (uint64_t)addr, (uint64_t)length, pos < 0 ? -1 : (int64_t)pos };
  }
  struct direct *d = calloc(1, sizeof *d);
  int dup_fd = d == NULL ? -1 : fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    int err = errno;
    free(extents);
    free(d);
    char message[128];
    snprintf(message, sizeof message, "directReads: cannot duplicate fd %d (%s)", (int)fd, strerror(err));
    return throw_error(env, "ERR_FUSE3_FD", message);
  }
  if (m->direct_count == m->direct_cap) {
    size_t cap = m->direct_cap == 0 ? 16 : m->direct_cap * 2;
    struct direct **grown = realloc(m->direct, cap * sizeof *grown);
    if (grown == NULL) { close(dup_fd); free(extents); free(d); return throw_error(env, "ENOMEM", "out of memory"); }
    m->direct = grown;
    m->direct_cap = cap;
  }
  direct_drop(m, (uint64_t)fh);
  *d = (struct direct){ (uint64_t)fh, dup_fd, (uint64_t)size, now_ns() + (uint64_t)(lease * 1e6), count, extents };
  m->direct[m->direct_count++] = d;
  return undefined(env);
}

/* leaseDirect(handle, fh, leaseMs) → whether fh has a map (its lease then runs leaseMs from now). */
static napi_value js_lease_direct(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct mount *m = handle_args(env, info, 3, argv);
  if (m == NULL) return NULL;
  double lease = get_double(env, argv[2]);
  struct direct *d = m->destroyed ? NULL : direct_find(m, (uint64_t)get_double(env, argv[1]), NULL);
  if (d != NULL && lease >= 0) d->lease_until = now_ns() + (uint64_t)(lease * 1e6);
  napi_value out;
  napi_get_boolean(env, d != NULL, &out);
  return out;
}

/* dropDirect(handle, fh): reads of fh go to JS again (nothing when it had no map). */
static napi_value js_drop_direct(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct mount *m = handle_args(env, info, 2, argv);
  if (m == NULL) return NULL;
  if (!m->destroyed) direct_drop(m, (uint64_t)get_double(env, argv[1]));
  return undefined(env);
}

/* directStats(handle) → [reads answered here, files with a map] */
static napi_value js_direct_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct mount *m = handle_args(env, info, 1, argv);
  if (m == NULL) return NULL;
  napi_value out, v;
  napi_create_array_with_length(env, 2, &out);
  napi_create_double(env, m->direct_reads, &v);
  napi_set_element(env, out, 0, v);
  napi_create_double(env, (double)m->direct_count, &v);
  napi_set_element(env, out, 1, v);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  struct { const char *name; napi_callback fn; } fns[] = {
    { "mount", js_mount }, { "unmount", js_unmount }, { "unref", js_unref }, { "destroy", js_destroy },
    { "replyErr", js_reply_err }, { "replyBuf", js_reply_buf }, { "replySpans", js_reply_spans }, { "replyEntry", js_reply_entry }, { "replyAttr", js_reply_attr },
    { "replyOpen", js_reply_open }, { "replyWrite", js_reply_write }, { "replyStatfs", js_reply_statfs }, { "replyDir", js_reply_dir },
    { "directReads", js_direct_reads }, { "leaseDirect", js_lease_direct }, { "dropDirect", js_drop_direct }, { "directStats", js_direct_stats },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  napi_value version;
  napi_create_int32(env, fuse_version(), &version);
  napi_set_named_property(env, exports, "libfuseVersion", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
