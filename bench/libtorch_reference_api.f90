! The Fortran interfaces of libtorch_reference.cpp: raw libtorch on a ready float32 tensor,
! the neighbour every bench and profile call of hybridge is compared with.
module libtorch_reference_api
  use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_double, c_char
  implicit none (type, external)
  private
  public :: bench_reference_load, bench_reference_prepare, bench_reference_forward, bench_reference_output

  interface
    !> Load the TorchScript file at path (NUL-terminated) for `threads` intra-op threads.
    function bench_reference_load(path, threads) bind(c) result(status)
      import :: c_int, c_char
      implicit none (type, external)
      character(kind=c_char), intent(in) :: path(*)
      integer(c_int), value :: threads
      integer(c_int) :: status
    end function bench_reference_load
    !> Cast x(ninput, ncol) to the float32 tensor the next forwards take.
    function bench_reference_prepare(x, ncol, ninput) bind(c) result(status)
      import :: c_int, c_int64_t, c_double
      implicit none (type, external)
      real(c_double), intent(in) :: x(*)
      integer(c_int64_t), value :: ncol, ninput
      integer(c_int) :: status
    end function bench_reference_prepare
    !> One forward on the prepared tensor.
    function bench_reference_forward() bind(c) result(status)
      import :: c_int
      implicit none (type, external)
      integer(c_int) :: status
    end function bench_reference_forward
    !> The last forward's n output values, as float64.
    function bench_reference_output(y, n) bind(c) result(status)
      import :: c_int, c_int64_t, c_double
      implicit none (type, external)
      real(c_double), intent(out) :: y(*)
      integer(c_int64_t), value :: n
      integer(c_int) :: status
    end function bench_reference_output
  end interface
end module libtorch_reference_api
