/*
 * Helpers every memweave addon shares (each native/<name> C file includes this
 * file by its relative path, so each build stays one gcc call).
 */
#ifndef MEMWEAVE_NAPI_ARGS_H
#define MEMWEAVE_NAPI_ARGS_H

#include <node_api.h>

/* Fills argv with the call's first `want` arguments; throws a TypeError and returns 0 when fewer came. */
static inline int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  return 1;
}

#endif
