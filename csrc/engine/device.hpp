// Where a model runs: the `device` option and, for device=auto, one GPU per rank on a node.
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

namespace hyb {

// Checks an option value: cpu | cuda | cuda:N | auto (HYB_ERR_ARGUMENT otherwise).
void check_device_option(const std::string &value);

// Checks a Fortran MPI communicator handle (HYB_ERR_MPI when MPI is not initialized or the
// handle is MPI_COMM_NULL).
void check_fortran_comm(int fortran_comm);

// The device for a request. auto: node-local rank (MPI_COMM_TYPE_SHARED split of comm, rank
// 0 without one) modulo the number of GPUs; the CPU when there is none. A cuda request
// without a usable GPU is HYB_ERR_DEVICE.
torch::Device resolve_device(const std::string &request, std::optional<int> fortran_comm);

}  // namespace hyb
