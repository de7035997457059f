#include "device.hpp"

#include <mpi.h>

#include "error.hpp"

namespace hyb {
namespace {

// N from "cuda:N", -1 for plain "cuda"; throws for anything else after "cuda".
int cuda_index(const std::string &value) {
  if (value == "cuda") return -1;
  const std::string digits = value.substr(5);
  if (value.rfind("cuda:", 0) != 0 || digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    throw Error(HYB_ERR_ARGUMENT,
                "option device: value '" + value + "' is not one of cpu, cuda, cuda:N (N >= 0), auto");
  return std::stoi(digits);
}

int node_local_rank(int fortran_comm) {
  check_fortran_comm(fortran_comm);
  MPI_Comm comm = MPI_Comm_f2c(fortran_comm);
  MPI_Comm node = MPI_COMM_NULL;
  int rank = 0;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS ||
      MPI_Comm_rank(node, &rank) != MPI_SUCCESS)
    throw Error(HYB_ERR_MPI,
                "device=auto: splitting the communicator by node "
                "(MPI_Comm_split_type, MPI_COMM_TYPE_SHARED) failed");
  MPI_Comm_free(&node);
  return rank;
}

}  // namespace

void check_device_option(const std::string &value) {
  if (value == "cpu" || value == "auto") return;
  if (value.rfind("cuda", 0) == 0) {
    cuda_index(value);
    return;
  }
  throw Error(HYB_ERR_ARGUMENT,
              "option device: value '" + value + "' is not one of cpu, cuda, cuda:N (N >= 0), auto");
}

void check_fortran_comm(int fortran_comm) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized)
    throw Error(HYB_ERR_MPI,
                "a communicator was given but MPI is not initialized (or already "
                "finalized); call MPI_Init first");
  if (MPI_Comm_f2c(fortran_comm) == MPI_COMM_NULL)
    throw Error(HYB_ERR_MPI, "communicator " + std::to_string(fortran_comm) + " is MPI_COMM_NULL");
}

torch::Device resolve_device(const std::string &request, std::optional<int> fortran_comm) {
  if (request == "cpu") return torch::Device(torch::kCPU);
  // NOLINTNEXTLINE(bugprone-signed-char-misuse): a device count (int8_t), never negative
  const int ngpu = static_cast<int>(torch::cuda::device_count());
  if (request == "auto") {
    if (ngpu == 0) return torch::Device(torch::kCPU);
    const int rank = fortran_comm ? node_local_rank(*fortran_comm) : 0;
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(rank % ngpu));
  }
  const int index = cuda_index(request);
  if (ngpu == 0)
    throw Error(HYB_ERR_DEVICE, "device=" + request +
                                    " requested but libtorch sees no CUDA GPU "
                                    "(torch::cuda::device_count() = 0: no GPU, or a CPU-only libtorch); "
                                    "use device=cpu or device=auto");
  if (index >= ngpu)
    throw Error(HYB_ERR_DEVICE, "device=" + request + " requested but only " + std::to_string(ngpu) +
                                    " CUDA GPU(s) are visible (cuda:0..cuda:" + std::to_string(ngpu - 1) +
                                    ")");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index < 0 ? 0 : index));
}

}  // namespace hyb
