/*
 * memweave's small mapping addon (N-API, plain C, no node-gyp): what Node
 * itself cannot do on the data path.
 *
 *   map(fd, length)            the first `length` bytes of fd, mapped shared
 *                              (read/write), as an ArrayBuffer; unmapped when
 *                              the garbage collector frees it, so a read
 *                              still writing into it stays valid
 *   allocate(fd, offset, length)
 *                              posix_fallocate(3) of those bytes, so writing
 *                              through a mapping never meets a hole a full
 *                              tmpfs cannot fill (that would be SIGBUS)
 *   preadNowait(fd, view, at, length, position)
 *                              preadv2(RWF_NOWAIT): bytes read from the page
 *                              cache only; -1 when none were cached (EAGAIN),
 *                              -2 when the file cannot say (EOPNOTSUPP)
 *   setPipeSize(fd, bytes)     fcntl(F_SETPIPE_SZ); the new size, or -errno
 *   free(arrayBuffer)          detaches it (every view becomes empty), so its
 *                              memory goes back now rather than whenever the
 *                              collector gets to it; only for memory the
 *                              caller owns alone (no i/o still using it)
 *
 * Errors other than those come back as exceptions carrying `code` (the errno
 * name) and `errno`, like Node's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../include/napi-args.h"

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  const char *code = strerrorname_np(err);
  napi_value msg, error, code_value, errno_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  if (code != NULL) {
    napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
    napi_set_named_property(env, error, "code", code_value);
  }
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", msg);
  napi_throw(env, error);
  return NULL;
}

static int get_int64(napi_env env, napi_value value, int64_t *out, const char *name) {
  if (napi_get_value_int64(env, value, out) != napi_ok || *out < 0) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a non-negative integer", name);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

typedef struct { size_t length; } mapping_t;

static void unmap(napi_env env, void *data, void *hint) {
  mapping_t *mapping = hint;
  munmap(data, mapping->length);
  int64_t adjusted;
  napi_adjust_external_memory(env, -(int64_t)mapping->length, &adjusted);
  free(mapping);
}

static napi_value map_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int64_t fd, length;
  if (!get_int64(env, argv[0], &fd, "fd") || !get_int64(env, argv[1], &length, "length")) return NULL;
  if (length == 0) { napi_throw_range_error(env, NULL, "cannot map 0 bytes"); return NULL; }
  void *base = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  if (base == MAP_FAILED) return throw_errno(env, errno, "mmap");
  mapping_t *mapping = malloc(sizeof *mapping);
  if (mapping == NULL) { munmap(base, (size_t)length); return throw_errno(env, ENOMEM, "mmap"); }
  mapping->length = (size_t)length;
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, base, (size_t)length, unmap, mapping, &buffer) != napi_ok) {
    munmap(base, (size_t)length);
    free(mapping);
    napi_throw_error(env, NULL, "cannot wrap the mapping in an ArrayBuffer");
    return NULL;
  }
  int64_t adjusted;
  napi_adjust_external_memory(env, length, &adjusted);
  return buffer;
}

static napi_value allocate(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int64_t fd, offset, length;
  if (!get_int64(env, argv[0], &fd, "fd") || !get_int64(env, argv[1], &offset, "offset") || !get_int64(env, argv[2], &length, "length")) return NULL;
  if (length == 0) return NULL;
  int err = posix_fallocate((int)fd, (off_t)offset, (off_t)length);
  if (err != 0) return throw_errno(env, err, "fallocate");
  return NULL;
}

static napi_value pread_nowait(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  int64_t fd, at, length, position;
  if (!get_int64(env, argv[0], &fd, "fd") || !get_int64(env, argv[2], &at, "at") || !get_int64(env, argv[3], &length, "length")
      || !get_int64(env, argv[4], &position, "position")) return NULL;
  bool is_view;
  CHECK(napi_is_typedarray(env, argv[1], &is_view));
  if (!is_view) { napi_throw_type_error(env, NULL, "view must be a Uint8Array"); return NULL; }
  napi_typedarray_type type;
  size_t count;
  void *data;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &count, &data, NULL, NULL));
  if (type != napi_uint8_array || (uint64_t)at + (uint64_t)length > count) { napi_throw_range_error(env, NULL, "the read does not fit the view"); return NULL; }
  struct iovec iov = { .iov_base = (char *)data + at, .iov_len = (size_t)length };
  ssize_t got;
  do got = preadv2((int)fd, &iov, 1, (off_t)position, RWF_NOWAIT); while (got < 0 && errno == EINTR);
  napi_value result;
  if (got >= 0) CHECK(napi_create_int64(env, got, &result));
  else if (errno == EAGAIN) CHECK(napi_create_int32(env, -1, &result));
  else if (errno == EOPNOTSUPP) CHECK(napi_create_int32(env, -2, &result));
  else return throw_errno(env, errno, "preadv2");
  return result;
}

static napi_value set_pipe_size(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  int64_t fd, bytes;
  if (!get_int64(env, argv[0], &fd, "fd") || !get_int64(env, argv[1], &bytes, "bytes")) return NULL;
  int got = fcntl((int)fd, F_SETPIPE_SZ, (int)bytes);
  napi_value result;
  CHECK(napi_create_int32(env, got < 0 ? -errno : got, &result));
  return result;
}

static napi_value free_now(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  bool is_buffer;
  CHECK(napi_is_arraybuffer(env, argv[0], &is_buffer));
  if (!is_buffer) { napi_throw_type_error(env, NULL, "free takes an ArrayBuffer"); return NULL; }
  bool detached;
  CHECK(napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (!detached) CHECK(napi_detach_arraybuffer(env, argv[0]));
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
    { "map", NULL, map_fd, NULL, NULL, NULL, napi_enumerable, NULL },
    { "allocate", NULL, allocate, NULL, NULL, NULL, napi_enumerable, NULL },
    { "preadNowait", NULL, pread_nowait, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setPipeSize", NULL, set_pipe_size, NULL, NULL, NULL, napi_enumerable, NULL },
    { "free", NULL, free_now, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods) != napi_ok) return NULL;
  return exports;
}
