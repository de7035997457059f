/* Example 02: run a hybridge model on one batch of columns through the C ABI.
 *
 * Usage: c_consumer MODEL.pt
 * Host arrays are row-major [ncol, nfeature] float64; the engine casts to the model dtype.
 * Every call returns a status; on failure hyb_last_error() names the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hybridge.h>

/* Print the engine's message and leave; the C ABI itself never exits. */
static void check(int status, const char *what) {
  if (status == HYB_OK) return;
  char msg[1024];
  hyb_last_error(msg, sizeof msg, NULL);
  fprintf(stderr, "c_consumer: %s failed (%s): %s\n", what, hyb_status_name(status), msg);
  exit(1);
}

/* A plausible value for a ClimSim input variable (K, kg/kg, Pa, W/m2). */
static double typical_value(const char *var) {
  if (strcmp(var, "state_t") == 0) return 250.0;
  if (strcmp(var, "state_q0001") == 0) return 4.0e-3;
  if (strcmp(var, "state_ps") == 0) return 1.0e5;
  if (strcmp(var, "pbuf_SOLIN") == 0) return 340.0;
  return 50.0; /* surface fluxes */
}

int main(int argc, char **argv) {
  enum { NCOL = 4 };
  if (argc != 2) {
    fprintf(stderr, "usage: c_consumer MODEL.pt\n");
    return 2;
  }
  hyb_model model = 0;
  check(hyb_model_create(&model), "hyb_model_create");
  check(hyb_model_set_option(model, "device", "cpu"), "set device");
  check(hyb_model_load(model, argv[1]), "hyb_model_load");

  char in_name[256], out_name[256];
  int dtype, ndim, batch_axis;
  int64_t in_shape[HYB_MAX_NDIM], out_shape[HYB_MAX_NDIM];
  check(hyb_model_tensor_info(model, HYB_INPUT, 0, in_name, sizeof in_name, &dtype, &ndim, in_shape,
                              &batch_axis),
        "input info");
  check(hyb_model_tensor_info(model, HYB_OUTPUT, 0, out_name, sizeof out_name, &dtype, &ndim, out_shape,
                              &batch_axis),
        "output info");
  const int64_t nin = in_shape[0], nout = out_shape[0];

  /* Fill each variable of the input layout by name, as a host fills from its state. */
  double *x = calloc(NCOL * nin, sizeof *x), *y = calloc(NCOL * nout, sizeof *y);
  int nvar;
  check(hyb_model_layout_count(model, HYB_INPUT, in_name, &nvar), "layout count");
  for (int i = 0; i < nvar; i++) {
    char var[64];
    int64_t offset, size;
    check(hyb_model_layout_var(model, HYB_INPUT, in_name, i, var, sizeof var, &offset, &size), "layout var");
    double value = typical_value(var);
    for (int c = 0; c < NCOL; c++)
      for (int64_t k = 0; k < size; k++) x[c * nin + offset + k] = value;
  }

  const int64_t xshape[2] = {NCOL, nin}, yshape[2] = {NCOL, nout};
  check(hyb_model_bind(model, HYB_INPUT, in_name, x, HYB_FLOAT64, 2, xshape), "bind input");
  check(hyb_model_bind(model, HYB_OUTPUT, out_name, y, HYB_FLOAT64, 2, yshape), "bind output");
  check(hyb_model_run(model), "hyb_model_run");

  for (int64_t i = 0; i < NCOL * nout; i++) {
    if (!isfinite(y[i])) {
      fprintf(stderr, "c_consumer: non-finite output at column %lld\n", (long long)(i / nout));
      return 1;
    }
  }
  printf("c_consumer: %d columns, %lld inputs -> %lld outputs, y[0][0] = %.6e, ok\n", NCOL, (long long)nin,
         (long long)nout, y[0]);
  check(hyb_model_free(model), "hyb_model_free");
  free(x);
  free(y);
  return 0;
}
