! The calls bench/profile_forward.f90 counts, in a file of their own so that the compiler
! cannot inline profile_timed_calls into the program and hide it from callgrind.
module profile_forward_calls
  use, intrinsic :: iso_c_binding, only: c_int
  use, intrinsic :: iso_fortran_env, only: real32, real64
  use hybridge, only: hyb_forward, hyb_model
  use libtorch_reference_api, only: bench_reference_forward
  implicit none (type, external)
  private
  public :: profile_timed_calls, calls

  type(hyb_model), public :: model
  logical, public :: raw_libtorch = .false., host_real32 = .false.
  real(real64), allocatable, public :: x8(:, :), y8(:, :)
  real(real32), allocatable, public :: x4(:, :), y4(:, :)

contains

  ! The calls callgrind counts; bind(c) gives the name --toggle-collect matches.
  subroutine profile_timed_calls(n) bind(c, name='profile_timed_calls')
    integer(c_int), intent(in) :: n
    call calls(int(n))
  end subroutine profile_timed_calls

  subroutine calls(n)
    integer, intent(in) :: n
    integer :: i
    do i = 1, n
      if (raw_libtorch) then
        if (bench_reference_forward() /= 0) error stop 1
      else if (host_real32) then
        call hyb_forward(model, x4, y4)
      else
        call hyb_forward(model, x8, y8)
      end if
    end do
  end subroutine calls

end module profile_forward_calls
