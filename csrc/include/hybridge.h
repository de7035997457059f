/**
 * @file hybridge.h
 * @brief hybridge C ABI: load and run PyTorch emulators from Fortran/C climate models.
 *
 * Rules (DESIGN.md, contract 2):
 *   - every function returns an int status (HYB_OK == 0); outputs go through pointers;
 *   - on failure, hyb_last_error() gives this thread's message, naming the problem
 *     (file, tensor name, expected vs got);
 *   - no C++ exception crosses this boundary, nothing here exits or aborts the process;
 *   - handles are integers from a registry: a freed or unknown handle is reported as
 *     HYB_ERR_HANDLE, never dereferenced.
 *
 * Array convention: host arrays are row-major with the column (batch) axis FIRST:
 *   shape = [ncol, d1, ..., dk], where [d1..dk] is the per-column shape of the tensor
 *   as the manifest writes it. A Fortran array x(dk, ..., d1, ncol) is exactly this
 *   memory, so it reaches libtorch without a copy on CPU (when dtypes match).
 *   The engine moves the column axis to the model's batch_axis itself.
 */
#ifndef HYBRIDGE_H
#define HYBRIDGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of this ABI; hyb_abi_version() returns the library's. */
#define HYB_ABI_VERSION 1
/** Most axes of a host array: the column axis and up to 7 per-column axes. */
#define HYB_MAX_NDIM 8

/** The status every function returns. */
enum hyb_status_code {
  HYB_OK = 0,            /**< success */
  HYB_ERR_ARGUMENT = 1,  /**< null pointer, bad option key or value, bad enum value */
  HYB_ERR_FILE = 2,      /**< missing or unreadable file */
  HYB_ERR_LOAD = 3,      /**< not a loadable model (not TorchScript or .pt2, truncated, other CPU/torch) */
  HYB_ERR_MANIFEST = 4,  /**< manifest missing, invalid, or not matching the declarations */
  HYB_ERR_SHAPE = 5,     /**< array shape does not match the tensor */
  HYB_ERR_DTYPE = 6,     /**< unsupported or mismatching dtype */
  HYB_ERR_NONFINITE = 7, /**< NaN or Inf in an input while nonfinite=reject */
  HYB_ERR_HANDLE = 8,    /**< unknown, freed or double-freed handle */
  HYB_ERR_DEVICE = 9,    /**< requested device not available */
  HYB_ERR_RUNTIME = 10,  /**< the model raised an error during forward */
  HYB_ERR_ORDER = 11,    /**< call out of order (run before load, option after load, ...) */
  HYB_ERR_NAME = 12,     /**< unknown tensor or variable name */
  HYB_ERR_MPI = 13,      /**< MPI failure (node batching, auto device) */
  HYB_ERR_INTERNAL = 99  /**< a bug or an exhausted resource inside the engine; the message says which */
};

/** Element type of a host array or of a model tensor. Floats cast to floats and integers
 * to integers; a float array for an integer tensor (or the reverse) is HYB_ERR_DTYPE. */
enum hyb_dtype {
  HYB_FLOAT32 = 0, /**< 4-byte IEEE float (Fortran real32) */
  HYB_FLOAT64 = 1, /**< 8-byte IEEE float (Fortran real64) */
  HYB_INT32 = 2,   /**< 4-byte integer (Fortran integer(int32)), e.g. a surface type or month index */
  HYB_INT64 = 3    /**< 8-byte integer (Fortran integer(int64)) */
};
/** What a tensor is to the model. */
enum hyb_role {
  HYB_INPUT = 0,  /**< an argument of forward, bound by the host each run */
  HYB_OUTPUT = 1, /**< a result of forward, written into a bound host array */
  HYB_STATE = 2   /**< recurrent state: an argument and a result, kept by the engine per column */
};

/** A model handle from hyb_model_create(); 0 is never a valid handle. */
typedef int64_t hyb_model;

/* ---- errors ---- */
/** Short constant name of a status code ("HYB_ERR_SHAPE"); never NULL. */
const char *hyb_status_name(int status);
/** Copies this thread's last error message into buf (NUL-terminated, truncated to
 * buflen-1). *full_len (may be NULL) receives the untruncated length. */
int hyb_last_error(char *buf, int64_t buflen, int64_t *full_len);
/** The ABI version of the loaded library (HYB_ABI_VERSION when it matches this header). */
int hyb_abi_version(int *version);

/* ---- life cycle ---- */
/** Creates an empty model handle: options, communicator and declarations come next, then
 * hyb_model_load(). */
int hyb_model_create(hyb_model *model);
/** Sets one option; before load unless noted. Unknown keys and bad values are errors.
 * @verbatim
 *   device    = cpu | cuda | cuda:N | auto      (auto: node-local rank mod #GPUs, CPU if none;
 *                                                 rank 0 without hyb_model_set_comm; with a
 *                                                 communicator, load is collective over it)
 *   threads   = N >= 1 (intra-op threads; may be set after load)
 *   nonfinite = reject | pass                   (may be set after load)
 *   chunk     = N >= 0  (0: whole batch in one call; N: fixed chunks of N columns, the
 *                        last one padded, so results do not depend on the batch. This is
 *                        the reproducible mode: on CUDA it also turns off TF32 and cuDNN
 *                        autotuning and asks for deterministic algorithms, process-wide)
 *   batching  = rank | node
 *               rank: each rank runs its own columns on its own copy of the model.
 *               node: the ranks of a node (MPI_COMM_TYPE_SHARED split of the communicator
 *               of hyb_model_set_comm, required) send their columns to node rank 0, the
 *               only one that loads the model; it runs them as one batch and sends the
 *               results back. load, run, run_start and run_finish are then collective over
 *               the node's ranks (each with ncol >= 1); an error on any rank is returned
 *               on every rank, naming the rank. With chunk=N the results are bit-identical
 *               to batching=rank. Recurrent state stays per rank, in host layout.
 *   cuda_graphs = off | on  (on: on a CUDA device the forward is captured once as a CUDA
 *               graph and replayed, one launch per chunk. Needs chunk=N (one batch shape,
 *               one graph). HYB_ERR_DEVICE with device=cpu or a libtorch without CUDA;
 *               ignored when device=auto finds no GPU)
 *   heap      = keep | system  (default keep: at the first load in the process, glibc's
 *               malloc keeps freed memory mapped (mmap threshold 32 MiB, trim threshold
 *               256 MiB), so a forward's activations are not returned to the system and
 *               faulted in again on every call, which costs ~10% at 384 columns on 2
 *               threads. Process-wide; left alone when the job sets MALLOC_*_ or
 *               GLIBC_TUNABLES=glibc.malloc.*; system: never touch the heap policy)
 * @endverbatim
 */
int hyb_model_set_option(hyb_model model, const char *key, const char *value);
/** Communicator for device=auto and batching=node, as a Fortran MPI handle (MPI_Fint). */
int hyb_model_set_comm(hyb_model model, int fortran_comm);
/** Declare a tensor the caller expects (before load): per-column shape in PyTorch order,
 * model dtype, and where the model wants the column axis. Checked against the manifest;
 * required for models without a manifest (then checked by one dry run). */
int hyb_model_declare(hyb_model model, int role, const char *name, int dtype, int ndim, const int64_t *shape,
                      int batch_axis);
/** Loads the model file at path: reads and checks its manifest (or the declarations), moves
 * it to its device and runs it once on zeros. */
int hyb_model_load(hyb_model model, const char *path);
/** Frees the model; the handle is then invalid (a later call on it is HYB_ERR_HANDLE). */
int hyb_model_free(hyb_model model);

/* ---- queries (after load) ---- */
/** The manifest as JSON, copied as by hyb_last_error(). */
int hyb_model_manifest(hyb_model model, char *buf, int64_t buflen, int64_t *full_len);
/** Number of tensors of a role (enum hyb_role). */
int hyb_model_count(hyb_model model, int role, int *n);
/** Tensor index (0-based) of a role: its name (a buffer of namelen bytes), dtype, number of
 * per-column axes, per-column shape (HYB_MAX_NDIM entries) and the model's column axis. */
int hyb_model_tensor_info(hyb_model model, int role, int index, char *name, int64_t namelen, int *dtype,
                          int *ndim, int64_t *shape, int *batch_axis);
/** Number of variables in the layout of a tensor's last axis (e.g. state_t, state_q0001, ...). */
int hyb_model_layout_count(hyb_model model, int role, const char *tensor, int *nvar);
/** Variable index (0-based) of a tensor's layout: its name, offset and size along the last
 * axis (e.g. state_t at offset 0, size 60). */
int hyb_model_layout_var(hyb_model model, int role, const char *tensor, int index, char *var, int64_t varlen,
                         int64_t *offset, int64_t *size);
/** Offset and size of variable `var` in the layout of a tensor's last axis (HYB_ERR_NAME,
 * naming the tensor's variables, when it has no such variable). */
int hyb_model_layout_find(hyb_model model, int role, const char *tensor, const char *var, int64_t *offset,
                          int64_t *size);
/** The device the model runs on ("cpu", "cuda:0"), NUL-terminated in buf. */
int hyb_model_device(hyb_model model, char *buf, int64_t buflen);

/* ---- running ---- */
/** Bind a host buffer to an input or output for the next run (role HYB_INPUT/HYB_OUTPUT).
 * shape = [ncol, per-column shape...]. Bindings are cleared after each run, and after a
 * failed bind (so no run reaches a buffer the caller freed on giving up). With
 * batching=node a failed bind also makes the next run fail on every rank of the node with
 * that error: call the run on every rank even after a bind failed. */
int hyb_model_bind(hyb_model model, int role, const char *name, void *data, int dtype, int ndim,
                   const int64_t *shape);
/** Like hyb_model_bind(), for an array already on the model's CUDA device (a device pointer,
 * e.g. from OpenACC `host_data use_device` or CUDA Fortran): read and written there, no
 * host copy. The data must be complete when the run starts (the host's device work on
 * them synchronized); the outputs are complete when the run returns. HYB_ERR_DEVICE when
 * the model does not run on CUDA or uses batching=node. */
int hyb_model_bind_device(hyb_model model, int role, const char *name, void *data, int dtype, int ndim,
                          const int64_t *shape);
/** Runs the model on the bound buffers; recurrent state is taken and updated in place.
 * hyb_model_run = hyb_model_run_start + hyb_model_run_finish. */
int hyb_model_run(hyb_model model);
/** y = model(x) for a model with one input and one output, host buffers in the layout of
 * hyb_model_bind(): binds both and runs, in one call and with the same checks and errors
 * (HYB_ERR_ARGUMENT for a model with more tensors). The cheapest call for a few columns:
 * one handle look-up, no per-thread bindings. Drops the thread's earlier bindings. With
 * batching=node it is collective like hyb_model_run(), and runs (and fails on every rank)
 * even when this rank's arguments are refused. */
int hyb_model_forward(hyb_model model, const void *x, int x_dtype, int x_ndim, const int64_t *x_shape,
                      void *y, int y_dtype, int y_ndim, const int64_t *y_shape);
/** The first half of hyb_model_run(), so the host can do other work while the model runs.
 * run_start checks the inputs and starts the run (rank: a worker thread; node: the columns
 * leave by non-blocking MPI); run_finish waits and delivers the outputs and any error.
 * In between the bound arrays must stay alive and untouched, and every other call on this
 * model (queries and free included) returns HYB_ERR_ORDER. MPI is only called from the
 * calling thread. */
int hyb_model_run_start(hyb_model model);
/** The second half of hyb_model_run(): waits for the run hyb_model_run_start() began and
 * delivers its outputs and any error. */
int hyb_model_run_finish(hyb_model model);
/** Copies recurrent state `name` out, per column, in the host layout [ncol, per-column
 * shape...] (zeros before the first run). */
int hyb_model_get_state(hyb_model model, const char *name, void *data, int dtype, int ndim,
                        const int64_t *shape);
/** Copies recurrent state `name` in (e.g. from a restart file), host layout as for
 * hyb_model_get_state(). */
int hyb_model_set_state(hyb_model model, const char *name, const void *data, int dtype, int ndim,
                        const int64_t *shape);
/** Drops every recurrent state: the next run starts from zeros. */
int hyb_model_reset_state(hyb_model model);
/** The guard's report of the last run (option guard=fallback|clip): for each of its ncol
 * columns, the first input value and the first output value outside the training range
 * (widened by guard_margin), as a flat index over the role's tensors in manifest order (for
 * one tensor: its per-column value index), or -1 when the column is within range. Either
 * array may be NULL. HYB_ERR_ORDER without a guard or before a run; HYB_ERR_SHAPE when ncol
 * is not the last run's. */
int hyb_model_guard_columns(hyb_model model, int64_t ncol, int64_t *first_input, int64_t *first_output);
/** Number of non-finite input values seen (and passed through) with nonfinite=pass. */
int hyb_model_nonfinite_count(hyb_model model, int64_t *count);

#ifdef __cplusplus
}
#endif
#endif /* HYBRIDGE_H */
