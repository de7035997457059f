!> Checks a restart file before any rank uses it. Rank 0 reads every variable, recomputes
!! the SHA-256 recorded at write (host_checksum) and, when it matches, checks that the contents
!! are plausible: every real finite, humidity not negative, surface pressure positive,
!! temperature within the stability guard's range, a valid start date, step counter and
!! sample counts not negative. The verdict is broadcast, so every rank stops together with
!! the message, which names the file and the variable.
module host_restart_check
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite, ieee_is_nan
  use, intrinsic :: iso_fortran_env, only: int32, int64
  use host_calendar, only: model_date, valid_date
  use host_checksum, only: sha256_t, sha256_init, sha256_add_name, sha256_add, sha256_hex
  use host_constants, only: r8, t_guard_min, t_guard_max
  use mpi_f08, only: MPI_Bcast, MPI_CHARACTER, MPI_Comm, MPI_Comm_rank, MPI_INTEGER
  use netcdf, only: nf90_close, nf90_double, nf90_get_att, nf90_get_var, nf90_global, &
    nf90_inquire, nf90_inquire_attribute, nf90_inquire_dimension, nf90_inquire_variable, nf90_int, &
    nf90_int64, nf90_max_name, nf90_max_var_dims, nf90_noerr, nf90_nowrite, nf90_open, nf90_strerror
  implicit none (type, external)
  private
  public :: restart_verify

  !> Humidity: the state and the history sums of it.
  character(24), parameter :: non_negative(2) = [character(24) :: 'state_q0001', 'hist_sum_state_q0001']

contains

  !> Collective. ok = .false. on every rank when the file is damaged or implausible.
  subroutine restart_verify(path, comm, ok, errmsg)
    character(*), intent(in) :: path
    type(MPI_Comm), intent(in) :: comm
    logical, intent(out) :: ok
    character(:), allocatable, intent(out) :: errmsg
    integer :: rank, n
    call MPI_Comm_rank(comm, rank)
    errmsg = ''
    if (rank == 0) call verify_on_root(path, errmsg)
    n = len(errmsg)
    call MPI_Bcast(n, 1, MPI_INTEGER, 0, comm)
    if (rank /= 0) then
      deallocate (errmsg)
      allocate (character(n) :: errmsg)
    end if
    if (n > 0) call MPI_Bcast(errmsg, n, MPI_CHARACTER, 0, comm)
    ok = n == 0
  end subroutine restart_verify

  subroutine verify_on_root(path, errmsg)
    character(*), intent(in) :: path
    character(:), allocatable, intent(inout) :: errmsg
    character(:), allocatable :: problem, file
    character(nf90_max_name) :: name, dim1
    character(64) :: recorded
    type(sha256_t) :: sha
    type(model_date) :: start
    integer :: ncid, nvars, varid, xtype, ndims, dimids(nf90_max_var_dims), k, status, attlen, ncol
    integer :: dlen(nf90_max_var_dims)
    integer(int64) :: counter
    real(r8), allocatable :: x(:)

    file = "restart file '"//path//"'"
    status = nf90_open(path, nf90_nowrite, ncid)
    if (status /= nf90_noerr) then
      errmsg = file//' cannot be read: '//trim(nf90_strerror(status))//' (missing, not a netCDF file, or damaged)'
      return
    end if
    status = nf90_inquire_attribute(ncid, nf90_global, 'sha256', len=attlen)
    if (status /= nf90_noerr .or. attlen /= len(recorded)) then
      errmsg = file//" has no SHA-256 checksum (global attribute 'sha256'); it was not written by "// &
               'this version of hybridge-host, or it was edited'
      status = nf90_close(ncid)
      return
    end if
    call check(nf90_get_att(ncid, nf90_global, 'sha256', recorded), 'attribute sha256')
    call check(nf90_inquire(ncid, nVariables=nvars), 'inquire')
    problem = ''
    start = model_date()
    call sha256_init(sha)
    do varid = 1, nvars
      call check(nf90_inquire_variable(ncid, varid, name=name, xtype=xtype, ndims=ndims, dimids=dimids), 'inquire')
      if (len(errmsg) > 0) exit
      dlen = 1
      dim1 = ''
      do k = 1, ndims
        call check(nf90_inquire_dimension(ncid, dimids(k), len=dlen(k)), trim(name))
      end do
      if (ndims > 0) call check(nf90_inquire_dimension(ncid, dimids(1), name=dim1), trim(name))
      if (len(errmsg) > 0) exit
      ! Profiles are (ncol, lev) in Fortran order: their elements are named by column and level.
      ncol = merge(dlen(1), 0, dim1 == 'ncol')
      call sha256_add_name(sha, trim(name))
      select case (xtype)
      case (nf90_double)
        call read_real(ncid, varid, ndims, dlen, x)
        call sha256_add(sha, x)
        if (len(problem) == 0) problem = real_problem(trim(name), x, ncol, ndims)
      case (nf90_int)
        counter = read_int32(ncid, varid)
        call sha256_add(sha, [int(counter, int32)])
        call count_checks()
      case (nf90_int64)
        call check(nf90_get_var(ncid, varid, counter), trim(name))
        call sha256_add(sha, [counter])
        call count_checks()
      case default
        if (len(problem) == 0) problem = "variable '"//trim(name)//"' has a type hybridge-host never writes"
      end select
    end do
    status = nf90_close(ncid)
    if (len(errmsg) > 0) return
    if (sha256_hex(sha) /= recorded) then
      errmsg = file//' fails its SHA-256 checksum (recorded '//recorded(1:12)//'..., the data give '// &
               'another): the file was damaged or modified after it was written'
      return
    end if
    if (len(problem) == 0 .and. .not. valid_date(start)) then
      write (name, '(i0,"-",i0,"-",i0," ",i0," s")') start%year, start%month, start%day, start%tod
      problem = "start date (start_year, start_month, start_day, start_tod) = '"//trim(name)// &
                "' is not a date of the no-leap calendar between 0001 and 9999"
    end if
    if (len(problem) > 0) errmsg = file//': '//problem

  contains

    !> The step counter, sample counts and the date of the calendar.
    subroutine count_checks()
      character(32) :: buf
      select case (trim(name))
      case ('nstep', 'hist_nsamples', 'n_fallback_total')
        if (counter < 0 .and. len(problem) == 0) then
          write (buf, '(i0)') counter
          problem = "variable '"//trim(name)//"' = "//trim(buf)//' is negative'
        end if
      case ('start_year')
        start%year = as_date_field(counter)
      case ('start_month')
        start%month = as_date_field(counter)
      case ('start_day')
        start%day = as_date_field(counter)
      case ('start_tod')
        start%tod = as_date_field(counter)
      case default
        continue  ! other integers (none at present) carry no constraint
      end select
    end subroutine count_checks

    !> A date field; -1 (invalid) when it does not even fit a default integer.
    integer function as_date_field(v)
      integer(int64), intent(in) :: v
      as_date_field = -1
      if (abs(v) <= huge(0_int32)) as_date_field = int(v)
    end function as_date_field

    subroutine check(st, what)
      integer, intent(in) :: st
      character(*), intent(in) :: what
      if (st == nf90_noerr .or. len(errmsg) > 0) return
      errmsg = file//': '//what//': '//trim(nf90_strerror(st))
    end subroutine check
  end subroutine verify_on_root

  !> A real variable, flattened in storage order (the first Fortran dimension fastest).
  subroutine read_real(ncid, varid, ndims, dlen, x)
    integer, intent(in) :: ncid, varid, ndims, dlen(:)
    real(r8), allocatable, intent(out) :: x(:)
    integer :: status, k
    if (ndims == 0) then
      allocate (x(1))
      status = nf90_get_var(ncid, varid, x(1))
    else
      allocate (x(product(dlen(1:ndims))))
      status = nf90_get_var(ncid, varid, x, start=[(1, k=1, ndims)], count=dlen(1:ndims))
    end if
    ! A read failure leaves values that the checksum will not match.
    if (status /= nf90_noerr) x = huge(1.0_r8)
  end subroutine read_real

  integer(int64) function read_int32(ncid, varid)
    integer, intent(in) :: ncid, varid
    integer(int32) :: v
    v = -huge(v)
    if (nf90_get_var(ncid, varid, v) /= nf90_noerr) v = -huge(v)
    read_int32 = v
  end function read_int32

  !> The first implausible value of a real variable, '' if none. Variables are stored
  !! (ncol, n) in Fortran order, so element i is column mod(i-1, ncol)+1, level (i-1)/ncol+1.
  function real_problem(name, x, ncol, ndims) result(problem)
    character(*), intent(in) :: name
    real(r8), intent(in) :: x(:)
    integer, intent(in) :: ncol, ndims
    character(:), allocatable :: problem
    character(160) :: buf
    integer :: i
    problem = ''
    do i = 1, size(x)
      if (.not. ieee_is_finite(x(i))) then
        problem = "variable '"//name//"' holds "//trim(merge('NaN     ', 'Infinity', ieee_is_nan(x(i))))//located(i)
        return
      end if
    end do
    if (any(non_negative == name)) then
      i = minloc(x, 1)
      if (size(x) > 0) then
        if (x(i) < 0.0_r8) then
          write (buf, '(es12.5)') x(i)
          problem = "variable '"//name//"' holds negative humidity "//trim(adjustl(buf))//located(i)
          return
        end if
      end if
    end if
    if (name == 'state_ps') then
      i = minloc(x, 1)
      if (x(i) <= 0.0_r8) then
        write (buf, '(es12.5)') x(i)
        problem = "variable 'state_ps' holds a surface pressure of "//trim(adjustl(buf))//' Pa'//located(i)
        return
      end if
    end if
    if (name == 'state_t') then
      do i = 1, size(x)
        if (x(i) < t_guard_min .or. x(i) > t_guard_max) then
          write (buf, '(es12.5," K, outside [",f5.1,", ",f5.1,"] K")') x(i), t_guard_min, t_guard_max
          problem = "variable 'state_t' holds a temperature of "//trim(buf)//located(i)
          return
        end if
      end do
    end if

  contains

    function located(j) result(text)
      integer, intent(in) :: j
      character(:), allocatable :: text
      character(64) :: b
      if (ncol > 0 .and. ndims == 2) then
        write (b, '(" at column ",i0,", level ",i0)') mod(j - 1, ncol) + 1, (j - 1)/ncol + 1
      else if (ncol > 0 .and. ndims == 1) then
        write (b, '(" at column ",i0)') j
      else
        write (b, '(" at element ",i0)') j
      end if
      text = trim(b)
    end function located
  end function real_problem
end module host_restart_check
