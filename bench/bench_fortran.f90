! Benchmark rows "hybridge from Fortran": a real64 host calling the float32 ClimSim v1 MLP
! through the hybridge module, as a climate model's physics driver would each time step:
! x(ninput, ncol) in, y(noutput, ncol) out, the engine casting both ways; and the same
! with real32 arrays, where nothing is cast.
!
! Each hyb_forward call alternates with a call of raw libtorch on a ready float32 tensor in
! this same process (libtorch_reference.cpp): each repetition times real64, raw, real32, raw
! (raw first in even ones), so the bridge's cost per call comes from pairs of neighbouring
! calls, which a busy machine slows alike, and every call follows one of the other model.
!
! Usage: bench_fortran MODEL INPUT PLAN THREADS OUT_CSV OUTPUT_DIR
! (more engine options for hyb_load from $HYBRIDGE_BENCH_OPTIONS, e.g. "heap=system")
! (same arguments and files as bench_libtorch; formats in bench/prepare.py). Writes one
! CSV line per timed call, "<path>,threads,ncol,seconds" with path hybridge_fortran (real64),
! hybridge_fortran_r4 (real32), libtorch_paired or libtorch_paired_r4 (their neighbours),
! and the outputs of the last call of each path and batch size to
! OUTPUT_DIR/<path>_t<threads>_n<ncol>.f64.
program bench_fortran
  use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_char, c_null_char
  use, intrinsic :: iso_fortran_env, only: real32, real64, int64, error_unit
  use hybridge, only: hyb_forward, hyb_free, hyb_load, hyb_model
  use libtorch_reference_api, only: bench_reference_load, bench_reference_prepare, bench_reference_forward, &
    bench_reference_output
  implicit none (type, external)

  interface
    ! C's rename(3): move a finished file into place in one step.
    function c_rename(old, new) bind(c, name='rename') result(status)
      import :: c_int, c_char
      implicit none (type, external)
      character(kind=c_char), intent(in) :: old(*), new(*)
      integer(c_int) :: status
    end function c_rename
  end interface

  character(len=:), allocatable :: model_path, input_path, plan_path, threads_text
  character(len=:), allocatable :: csv_path, output_dir
  type(hyb_model) :: model
  integer :: ninput, noutput, nbatch, ib, ios, csv_unit, threads
  integer, allocatable :: batch_ncol(:), batch_warmup(:), batch_reps(:)
  real(real64), allocatable :: x_all(:, :)

  if (command_argument_count() /= 6) then
    error stop 'usage: bench_fortran MODEL INPUT PLAN THREADS OUT_CSV OUTPUT_DIR'
  end if
  model_path = argument(1)
  input_path = argument(2)
  plan_path = argument(3)
  threads_text = argument(4)
  csv_path = argument(5)
  output_dir = argument(6)
  read(threads_text, *, iostat=ios) threads
  if (ios /= 0 .or. threads < 1) error stop 'bench_fortran: THREADS must be an integer >= 1'

  call read_plan(plan_path)
  allocate(x_all(ninput, maxval(batch_ncol)))
  call read_float64(input_path, x_all)

  call hyb_load(model, model_path, device='cpu', options='threads=' // threads_text // &
                extra_options())
  call check_reference(bench_reference_load(model_path // c_null_char, int(threads, c_int)))

  open(newunit=csv_unit, file=csv_path // '.tmp', status='replace', action='write', iostat=ios)
  if (ios /= 0) error stop 'bench_fortran: cannot write ' // csv_path // '.tmp'
  write(csv_unit, '(a)') 'path,threads,ncol,seconds'
  do ib = 1, nbatch
    call time_batch(batch_ncol(ib), batch_warmup(ib), batch_reps(ib))
  end do
  close(csv_unit)
  call move_into_place(csv_path)
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

  ! "; " // $HYBRIDGE_BENCH_OPTIONS (more engine options, e.g. heap=system), or nothing.
  function extra_options() result(options)
    character(len=:), allocatable :: options
    integer :: n
    call get_environment_variable('HYBRIDGE_BENCH_OPTIONS', length=n)
    allocate(character(len=n) :: options)
    if (n > 0) then
      call get_environment_variable('HYBRIDGE_BENCH_OPTIONS', options)
      options = '; ' // options
    end if
  end function extra_options

  subroutine check_reference(status)
    integer(c_int), intent(in) :: status
    if (status /= 0) error stop 'bench_fortran: the raw libtorch reference failed (see above)'
  end subroutine check_reference

  ! plan.txt: "ninput noutput", then "ncol warmup reps" per batch size until the end.
  subroutine read_plan(path)
    character(len=*), intent(in) :: path
    integer :: unit, row(3)
    open(newunit=unit, file=path, status='old', action='read', iostat=ios)
    if (ios /= 0) error stop 'bench_fortran: cannot open plan file ' // path
    read(unit, *, iostat=ios) ninput, noutput
    if (ios /= 0) error stop 'bench_fortran: ' // path // ": first line must be 'ninput noutput'"
    allocate(batch_ncol(0), batch_warmup(0), batch_reps(0))
    do
      read(unit, *, iostat=ios) row
      if (ios /= 0) exit
      batch_ncol = [batch_ncol, row(1)]
      batch_warmup = [batch_warmup, row(2)]
      batch_reps = [batch_reps, row(3)]
    end do
    close(unit)
    nbatch = size(batch_ncol)
    if (nbatch == 0) error stop 'bench_fortran: ' // path // ": no 'ncol warmup reps' lines"
  end subroutine read_plan

  subroutine read_float64(path, a)
    character(len=*), intent(in) :: path
    real(real64), intent(out) :: a(:, :)
    integer :: unit
    open(newunit=unit, file=path, status='old', access='stream', form='unformatted', &
         action='read', iostat=ios)
    if (ios /= 0) error stop 'bench_fortran: cannot open input file ' // path
    read(unit, iostat=ios) a
    if (ios /= 0) then
      write(error_unit, '(a,i0,a)') 'bench_fortran: ' // path // ': expected ', size(a), &
        ' float64 values'
      error stop 1
    end if
    close(unit)
  end subroutine read_float64

  ! Warm-up, then reps timed pairs of calls for each host kind (hybridge first in odd
  ! repetitions, raw libtorch first in even ones), one clock reading per call; writes the
  ! last outputs.
  subroutine time_batch(ncol, warmup, reps)
    integer, intent(in) :: ncol, warmup, reps
    real(real64), allocatable :: x(:, :), y(:, :), seconds(:, :)
    real(real32), allocatable :: x4(:, :), y4(:, :)
    integer :: i, k
    character(len=*), parameter :: paths(4) = [character(len=19) :: 'hybridge_fortran', &
                                                'libtorch_paired', 'hybridge_fortran_r4', &
                                                'libtorch_paired_r4']

    allocate(x, source=x_all(:, 1:ncol))
    allocate(y(noutput, ncol), seconds(reps, 4), y4(noutput, ncol))
    x4 = real(x, real32)
    call check_reference(bench_reference_prepare(x, int(ncol, c_int64_t), int(ninput, c_int64_t)))
    do i = 1, warmup
      call hyb_forward(model, x, y)
      call check_reference(bench_reference_forward())
      call hyb_forward(model, x4, y4)
    end do
    do i = 1, reps
      if (mod(i, 2) == 1) then
        seconds(i, 1) = timed_hybridge(x, y)
        seconds(i, 2) = timed_reference()
        seconds(i, 3) = timed_hybridge_r4(x4, y4)
        seconds(i, 4) = timed_reference()
      else
        seconds(i, 2) = timed_reference()
        seconds(i, 1) = timed_hybridge(x, y)
        seconds(i, 4) = timed_reference()
        seconds(i, 3) = timed_hybridge_r4(x4, y4)
      end if
    end do
    do k = 1, 4
      do i = 1, reps
        write(csv_unit, '(a,i0,a,es16.9)') trim(paths(k)) // ',' // threads_text // ',', ncol, &
          ',', seconds(i, k)
      end do
    end do

    call write_output(trim(paths(1)), ncol, y)
    call write_output(trim(paths(3)), ncol, real(y4, real64))
    call check_reference(bench_reference_output(y, int(size(y), c_int64_t)))
    call write_output(trim(paths(2)), ncol, y)

  end subroutine time_batch

  ! Seconds taken by one hyb_forward call.
  real(real64) function timed_hybridge(x, y) result(seconds)
    real(real64), intent(in) :: x(:, :)
    real(real64), intent(inout) :: y(:, :)
    integer(int64) :: t0, t1, clock_rate
    call system_clock(t0, clock_rate)
    call hyb_forward(model, x, y)
    call system_clock(t1)
    seconds = real(t1 - t0, real64) / real(clock_rate, real64)
  end function timed_hybridge

  ! Seconds taken by one hyb_forward call on real32 arrays.
  real(real64) function timed_hybridge_r4(x, y) result(seconds)
    real(real32), intent(in) :: x(:, :)
    real(real32), intent(inout) :: y(:, :)
    integer(int64) :: t0, t1, clock_rate
    call system_clock(t0, clock_rate)
    call hyb_forward(model, x, y)
    call system_clock(t1)
    seconds = real(t1 - t0, real64) / real(clock_rate, real64)
  end function timed_hybridge_r4

  ! Seconds taken by one raw libtorch call on the ready float32 tensor.
  real(real64) function timed_reference() result(seconds)
    integer(int64) :: t0, t1, clock_rate
    integer(c_int) :: status
    call system_clock(t0, clock_rate)
    status = bench_reference_forward()
    call system_clock(t1)
    call check_reference(status)
    seconds = real(t1 - t0, real64) / real(clock_rate, real64)
  end function timed_reference

  ! OUTPUT_DIR/<path>_t<threads>_n<ncol>.f64, the name report.py compares.
  subroutine write_output(path, ncol, y)
    character(len=*), intent(in) :: path
    integer, intent(in) :: ncol
    real(real64), intent(in) :: y(:, :)
    character(len=:), allocatable :: y_path
    character(len=24) :: suffix
    integer :: unit

    write(suffix, '(a,i0,a)') '_n', ncol, '.f64'
    y_path = output_dir // '/' // path // '_t' // threads_text // trim(suffix)
    open(newunit=unit, file=y_path // '.tmp', status='replace', access='stream', &
         form='unformatted', action='write', iostat=ios)
    if (ios /= 0) error stop 'bench_fortran: cannot write ' // y_path // '.tmp'
    write(unit) y
    close(unit)
    call move_into_place(y_path)
  end subroutine write_output

  ! Renames path.tmp to path.
  subroutine move_into_place(path)
    character(len=*), intent(in) :: path
    if (c_rename(path // '.tmp' // c_null_char, path // c_null_char) /= 0) then
      error stop 'bench_fortran: cannot rename ' // path // '.tmp'
    end if
  end subroutine move_into_place

end program bench_fortran
