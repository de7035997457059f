/* The C ABI from plain C (C11): PYREF for the v1 MLP and the recurrent fixture, and the
 * error contract (status + message, handles). Fixtures come from
 * `python -m hybridge.testing.models DIR`; usage: test_c_abi DIR. Exits 1 on the first failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridge.h"

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
      exit(1);                                             \
    }                                                      \
  } while (0)

static const char *last_error(void) {
  static char buf[4096];
  hyb_last_error(buf, sizeof buf, NULL);
  return buf;
}

/* Expects status `want` and `word` in the last error. */
static void expect(int status, int want, const char *word, const char *what) {
  CHECK(status == want, "%s: status %s, expected %s (%s)", what, hyb_status_name(status),
        hyb_status_name(want), last_error());
  CHECK(strstr(last_error(), word) != NULL, "%s: '%s' not in message: %s", what, word, last_error());
}

static void ok(int status, const char *what) {
  CHECK(status == HYB_OK, "%s: %s: %s", what, hyb_status_name(status), last_error());
}

/* Reads n float64 values from DIR/name. */
static double *read_f64(const char *dir, const char *name, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL, "cannot open %s", path);
  double *data = malloc(n * sizeof *data);
  CHECK(fread(data, sizeof *data, n, f) == n, "%s: fewer than %zu values", path, n);
  fclose(f);
  return data;
}

static void test_mlp_v1(const char *dir) {
  enum { NCOL = 384, NIN = 124, NOUT = 128 };
  char path[4096];
  snprintf(path, sizeof path, "%s/mlp_v1.pt", dir);
  double *x = read_f64(dir, "mlp_v1.in.x.f64", (size_t)NCOL * NIN);
  double *ref = read_f64(dir, "mlp_v1.ref.y.f64", (size_t)NCOL * NOUT);
  double *y = calloc((size_t)NCOL * NOUT, sizeof *y);
  hyb_model m = 0;
  ok(hyb_model_create(&m), "create");
  ok(hyb_model_load(m, path), "load mlp_v1");
  const int64_t xshape[2] = {NCOL, NIN}, yshape[2] = {NCOL, NOUT};
  ok(hyb_model_bind(m, HYB_INPUT, "x", x, HYB_FLOAT64, 2, xshape), "bind x");
  ok(hyb_model_bind(m, HYB_OUTPUT, "y", y, HYB_FLOAT64, 2, yshape), "bind y");
  ok(hyb_model_run(m), "run");
  CHECK(memcmp(y, ref, sizeof(double) * NCOL * NOUT) == 0, "mlp_v1: y differs from the Python reference");

  const int64_t bad[2] = {NCOL, NIN - 1};
  expect(hyb_model_bind(m, HYB_INPUT, "x", x, HYB_FLOAT64, 2, bad), HYB_ERR_SHAPE, "[384, 123]", "bad shape");
  expect(hyb_model_bind(m, HYB_INPUT, "t", x, HYB_FLOAT64, 2, xshape), HYB_ERR_NAME, "input 't'", "bad name");
  expect(hyb_model_run(m), HYB_ERR_ORDER, "not bound", "run without bindings");

  /* hyb_model_forward: bind both and run in one call, the same bits and the same refusals. */
  memset(y, 0, sizeof(double) * NCOL * NOUT);
  ok(hyb_model_forward(m, x, HYB_FLOAT64, 2, xshape, y, HYB_FLOAT64, 2, yshape), "forward");
  CHECK(memcmp(y, ref, sizeof(double) * NCOL * NOUT) == 0,
        "mlp_v1: hyb_model_forward differs from the reference");
  expect(hyb_model_forward(m, x, HYB_FLOAT64, 2, bad, y, HYB_FLOAT64, 2, yshape), HYB_ERR_SHAPE,
         "input 'x': host array has shape [384, 123]", "forward, bad input shape");
  expect(hyb_model_forward(m, x, HYB_FLOAT64, 2, xshape, NULL, HYB_FLOAT64, 2, yshape), HYB_ERR_ARGUMENT,
         "output 'y': the data pointer is NULL", "forward, NULL output");
  expect(hyb_model_forward(m, x, 99, 2, xshape, y, HYB_FLOAT64, 2, yshape), HYB_ERR_DTYPE, "input (x)",
         "forward, unknown dtype code");
  expect(hyb_model_forward(m, x, HYB_FLOAT64, 9, xshape, y, HYB_FLOAT64, 2, yshape), HYB_ERR_SHAPE, "ndim 9",
         "forward, ndim out of range");
  /* A refused forward leaves nothing bound behind it, and the next one works. */
  expect(hyb_model_run(m), HYB_ERR_ORDER, "not bound", "run after a refused forward");
  ok(hyb_model_forward(m, x, HYB_FLOAT64, 2, xshape, y, HYB_FLOAT64, 2, yshape), "forward after refusals");
  CHECK(memcmp(y, ref, sizeof(double) * NCOL * NOUT) == 0, "mlp_v1: forward after refusals differs");
  ok(hyb_model_free(m), "free");
  free(x);
  free(ref);
  free(y);
}

static void test_recurrent(const char *dir) {
  enum { NSTEP = 3, NCOL = 7, NIN = 8, NOUT = 4, NH = 2 * 16 };
  char path[4096];
  snprintf(path, sizeof path, "%s/recurrent.pt", dir);
  double *x = read_f64(dir, "recurrent.in.x.f64", (size_t)NSTEP * NCOL * NIN);
  double *ref_y = read_f64(dir, "recurrent.ref.y.f64", (size_t)NSTEP * NCOL * NOUT);
  double *ref_h = read_f64(dir, "recurrent.ref.h.f64", (size_t)NSTEP * NCOL * NH);
  double y[NCOL * NOUT], h[NCOL * NH];
  hyb_model m = 0;
  ok(hyb_model_create(&m), "create");
  ok(hyb_model_load(m, path), "load recurrent");
  const int64_t xshape[2] = {NCOL, NIN}, yshape[2] = {NCOL, NOUT}, hshape[3] = {NCOL, 2, 16};
  for (int step = 0; step < NSTEP; ++step) {
    ok(hyb_model_bind(m, HYB_INPUT, "x", x + step * NCOL * NIN, HYB_FLOAT64, 2, xshape), "bind x");
    ok(hyb_model_bind(m, HYB_OUTPUT, "y", y, HYB_FLOAT64, 2, yshape), "bind y");
    ok(hyb_model_run(m), "run");
    ok(hyb_model_get_state(m, "h", h, HYB_FLOAT64, 3, hshape), "get h");
    CHECK(memcmp(y, ref_y + step * NCOL * NOUT, sizeof y) == 0, "recurrent step %d: y differs", step + 1);
    CHECK(memcmp(h, ref_h + step * NCOL * NH, sizeof h) == 0, "recurrent step %d: h differs", step + 1);
  }
  ok(hyb_model_free(m), "free");
  free(x);
  free(ref_y);
  free(ref_h);
}

static void test_errors(void) {
  int version = 0;
  ok(hyb_abi_version(&version), "abi version");
  CHECK(version == HYB_ABI_VERSION, "ABI version %d, header says %d", version, HYB_ABI_VERSION);
  hyb_model m = 0;
  ok(hyb_model_create(&m), "create");
  CHECK(m != 0, "handle 0 returned");
  expect(hyb_model_set_option(m, "colour", "red"), HYB_ERR_ARGUMENT, "unknown option 'colour'", "bad key");
  expect(hyb_model_set_option(m, NULL, "1"), HYB_ERR_ARGUMENT, "key is NULL", "NULL key");
  expect(hyb_model_run(m), HYB_ERR_ORDER, "no model is loaded", "run before load");
  expect(hyb_model_load(m, "/no/such/dir/model.pt"), HYB_ERR_FILE, "/no/such/dir/model.pt", "missing file");
  ok(hyb_model_free(m), "free");
  expect(hyb_model_run(m), HYB_ERR_HANDLE, "was freed", "run after free");
  expect(hyb_model_free(m), HYB_ERR_HANDLE, "double free", "double free");

  char small[6];
  int64_t full = 0;
  ok(hyb_last_error(small, sizeof small, &full), "last error");
  CHECK(strlen(small) == 5 && full > 5, "truncation: '%s', full length %lld", small, (long long)full);
  CHECK(strcmp(hyb_status_name(HYB_ERR_NONFINITE), "HYB_ERR_NONFINITE") == 0, "status name");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
    return 2;
  }
  test_errors();
  test_mlp_v1(argv[1]);
  test_recurrent(argv[1]);
  printf("test_c_abi: all checks passed\n");
  return 0;
}
