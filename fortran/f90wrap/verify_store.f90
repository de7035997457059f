!> Model slots and per-tensor float64 buffers behind verify_api (layer: Fortran API, test
!! access). Not wrapped by f90wrap: Python sees only the plain procedures of verify_api.
module verify_store
  use, intrinsic :: iso_fortran_env, only: real64
  use hybridge, only: hyb_model
  implicit none (type, external)
  private
  public :: tensor_buffer, model_slot, slots, max_models, name_len

  integer, parameter :: max_models = 16, name_len = 64

  !> One input or output tensor: per-column shape in PyTorch order, values as
  !! data(product(shape), ncol), i.e. the Fortran array x(dk, .., d1, ncol) flattened.
  type :: tensor_buffer
    character(:), allocatable :: name
    integer, allocatable :: shape(:)
    real(real64), allocatable :: data(:, :)
  end type tensor_buffer

  type :: model_slot
    type(hyb_model) :: model
    type(tensor_buffer), allocatable :: inputs(:), outputs(:), states(:)
  end type model_slot

  type(model_slot), target :: slots(max_models)
end module verify_store
