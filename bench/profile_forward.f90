! The fixed cost of one call, for an instruction-count profile (scripts/profile_call.sh runs
! it under callgrind): NCALLS calls of either hyb_forward on a real32 or real64 host array
! or raw libtorch on a ready float32 tensor (libtorch_reference.cpp), the same model and
! columns, one intra-op thread. Only profile_timed_calls is counted (callgrind's
! --toggle-collect), after WARMUP untimed calls, so loading and first-call set-up stay out
! and the count divided by NCALLS is the cost of one call.
!
! Usage: profile_forward MODEL INPUT NINPUT NOUTPUT NCOL KIND PATH NCALLS
!   KIND real32|real64 (the host array's kind), PATH hybridge|libtorch.
program profile_forward
  use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_null_char
  use, intrinsic :: iso_fortran_env, only: real32, real64
  use hybridge, only: hyb_free, hyb_load
  use libtorch_reference_api, only: bench_reference_load, bench_reference_prepare
  use profile_forward_calls, only: model, raw_libtorch, host_real32, x8, y8, x4, y4, calls, &
                                   profile_timed_calls
  implicit none (type, external)


  integer, parameter :: warmup = 20
  character(len=:), allocatable :: model_path, input_path, kind_name, path_name
  integer :: ninput, noutput, ncol, ncalls, unit, ios

  if (command_argument_count() /= 8) then
    error stop 'usage: profile_forward MODEL INPUT NINPUT NOUTPUT NCOL KIND PATH NCALLS'
  end if
  model_path = argument(1)
  input_path = argument(2)
  ninput = int_argument(3)
  noutput = int_argument(4)
  ncol = int_argument(5)
  kind_name = argument(6)
  path_name = argument(7)
  ncalls = int_argument(8)
  if (kind_name /= 'real32' .and. kind_name /= 'real64') then
    error stop 'profile_forward: KIND is real32 or real64'
  end if
  if (path_name /= 'hybridge' .and. path_name /= 'libtorch') then
    error stop 'profile_forward: PATH is hybridge or libtorch'
  end if

  allocate(x8(ninput, ncol), y8(noutput, ncol), y4(noutput, ncol))
  open(newunit=unit, file=input_path, status='old', access='stream', form='unformatted', &
       action='read', iostat=ios)
  if (ios /= 0) error stop 'profile_forward: cannot open the input file'
  read(unit, iostat=ios) x8
  if (ios /= 0) error stop 'profile_forward: the input file is too short'
  close(unit)
  x4 = real(x8, real32)
  raw_libtorch = path_name == 'libtorch'
  host_real32 = kind_name == 'real32'

  call hyb_load(model, model_path, device='cpu', options='threads=1')
  if (bench_reference_load(model_path // c_null_char, 1_c_int) /= 0) error stop 1
  if (bench_reference_prepare(x8, int(ncol, c_int64_t), int(ninput, c_int64_t)) /= 0) error stop 1
  call calls(warmup)
  call profile_timed_calls(int(ncalls, c_int))
  call hyb_free(model)

contains

  function argument(i) result(value)
    integer, intent(in) :: i
    character(len=:), allocatable :: value
    integer :: n
    call get_command_argument(i, length=n)
    allocate(character(len=n) :: value)
    call get_command_argument(i, value)
  end function argument

  integer function int_argument(i) result(value)
    integer, intent(in) :: i
    character(len=:), allocatable :: text
    text = argument(i)
    read(text, *, iostat=ios) value
    if (ios /= 0) error stop 'profile_forward: NINPUT, NOUTPUT, NCOL and NCALLS are integers'
  end function int_argument

end program profile_forward
