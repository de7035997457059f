!> Test support for the Fortran test programs: read the fixtures written by
!> `python -m hybridge.testing.models DIR` (index.txt + raw float64 files) and compare
!> results bit for bit. Every check stops the program with `error stop` on failure.
module fixtures
  use, intrinsic :: iso_fortran_env, only: real32, real64, int64
  implicit none (type, external)
  private
  public :: fixture_dir, model_path, read_data, read_raw, expect_equal_bits, expect_true, expect_status

  integer, parameter :: linelen = 1024

contains

  !> Fixture folder: the program's first command-line argument.
  function fixture_dir() result(dir)
    character(:), allocatable :: dir
    character(len=linelen) :: arg

    if (command_argument_count() < 1) error stop 'usage: <test program> FIXTURE_DIR'
    call get_command_argument(1, arg)
    dir = trim(arg)
  end function fixture_dir

  !> Path of a fixture's model file.
  function model_path(fixture) result(path)
    character(*), intent(in) :: fixture
    character(:), allocatable :: path
    character(len=linelen) :: line, rec, fix, file
    integer :: u, ios

    open(newunit=u, file=fixture_dir() // '/index.txt', status='old', action='read')
    do
      read(u, '(a)', iostat=ios) line
      if (ios /= 0) exit
      if (line(1:6) /= 'model ') cycle
      read(line, *) rec, fix, file
      if (fix == fixture) then
        close(u)
        path = fixture_dir() // '/' // trim(file)
        return
      end if
    end do
    close(u)
    error stop 'index.txt has no model for fixture ' // fixture
  end function model_path

  !> A data file ("in" or "ref" of a tensor) as a flat float64 array and its shape
  !> [nstep, ncol, d1..dk] (row-major, so the flat array is a(dk,..,d1,ncol,nstep)).
  subroutine read_data(fixture, kind, tensor, values, shape)
    character(*), intent(in) :: fixture, kind, tensor
    real(real64), allocatable, intent(out) :: values(:)
    integer, allocatable, intent(out) :: shape(:)
    character(len=linelen) :: line, rec, fix, knd, name, file
    integer :: u, ios, ndim, dims(8)

    open(newunit=u, file=fixture_dir() // '/index.txt', status='old', action='read')
    do
      read(u, '(a)', iostat=ios) line
      if (ios /= 0) exit
      if (line(1:5) /= 'data ') cycle
      read(line, *) rec, fix, knd, name, file, ndim
      if (fix /= fixture .or. knd /= kind .or. name /= tensor) cycle
      read(line, *) rec, fix, knd, name, file, ndim, dims(1:ndim)
      close(u)
      shape = dims(1:ndim)
      allocate(values(product(shape)))
      open(newunit=u, file=fixture_dir() // '/' // trim(file), access='stream', &
           form='unformatted', status='old', action='read')
      read(u) values
      close(u)
      return
    end do
    close(u)
    error stop 'index.txt has no ' // kind // ' data for ' // fixture // '.' // tensor
  end subroutine read_data

  !> A raw float64 file of the fixture folder holding n values.
  function read_raw(file, n) result(values)
    character(*), intent(in) :: file
    integer, intent(in) :: n
    real(real64) :: values(n)
    integer :: u

    open(newunit=u, file=fixture_dir() // '/' // file, access='stream', form='unformatted', &
         status='old', action='read')
    read(u) values
    close(u)
  end function read_raw

  !> got == ref bit for bit, both flat over (nfeature, ncol). On failure prints the
  !> number of differing values, the largest absolute difference and the first
  !> differing (feature, column), then stops.
  subroutine expect_equal_bits(what, got, ref, nfeature)
    character(*), intent(in) :: what
    real(real64), intent(in) :: got(:), ref(:)
    integer, intent(in) :: nfeature
    integer :: i, ndiff, first

    if (size(got) /= size(ref)) then
      print "(a, ': ', i0, ' values, reference has ', i0)", what, size(got), size(ref)
      error stop 'size mismatch'
    end if
    ndiff = 0
    first = 0
    do i = 1, size(got)
      if (transfer(got(i), 0_int64) /= transfer(ref(i), 0_int64)) then
        ndiff = ndiff + 1
        if (first == 0) first = i
      end if
    end do
    if (ndiff == 0) then
      print "(a, ': ', i0, ' values bit for bit equal')", what, size(got)
      return
    end if
    print "(a, ': ', i0, ' of ', i0, ' values differ, max abs diff ', es10.3)", what, ndiff, &
      size(got), maxval(abs(got - ref))
    print "('  first at feature ', i0, ', column ', i0, ': got ', es24.17, ' reference ', es24.17)", &
      mod(first - 1, nfeature) + 1, (first - 1) / nfeature + 1, got(first), ref(first)
    error stop 'not bit for bit equal to the Python reference'
  end subroutine expect_equal_bits

  subroutine expect_true(what, ok)
    character(*), intent(in) :: what
    logical, intent(in) :: ok

    if (.not. ok) then
      print "('FAILED: ', a)", what
      error stop 'check failed'
    end if
    print "('ok: ', a)", what
  end subroutine expect_true

  !> A call failed with the expected status and its message names the problem.
  subroutine expect_status(what, stat, expected, errmsg, names)
    character(*), intent(in) :: what, errmsg, names
    integer, intent(in) :: stat, expected

    if (stat /= expected .or. index(errmsg, names) == 0) then
      print "('FAILED: ', a, ': status ', i0, ' (expected ', i0, '), message: ', a)", what, &
        stat, expected, trim(errmsg)
      print "('  the message should name: ', a)", names
      error stop 'wrong error report'
    end if
    print "('ok: ', a, ': ', a)", what, trim(errmsg)
  end subroutine expect_status
end module fixtures
