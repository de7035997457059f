!> Restart files: everything a continued run needs to reproduce the straight run bit for
!! bit: the prognostic state, the step counter and start date (which give the calendar),
!! the history sums, the fallback counter, the emulator's recurrent state and, with the
!! spectral core, its spectral state at both time levels (dynamics_restart_write).
!! <output_dir>/<case>.r.YYYY-MM-DD-SSSSS.nc, written under a temporary name and renamed.
module host_restart
  use, intrinsic :: iso_fortran_env, only: int64
  use dynamics, only: dynamics_restart_write, dynamics_restart_read
  use host_abort, only: abort_run
  use host_calendar, only: model_date
  use host_constants, only: r8, ncol_global
  use host_grid, only: grid_t
  use host_history, only: history_t
  use host_ncfile, only: out_file, out_open, out_field, out_int, out_int64, out_close
  use host_netcdf, only: nc_check, nc_open_read
  use mpi_f08, only: MPI_Comm
  use netcdf, only: nf90_close, nf90_get_var, nf90_inq_dimid, nf90_inq_varid, nf90_inquire_dimension, &
    nf90_inquire_variable, nf90_noerr
  use physics_types, only: physics_state
  implicit none (type, external)
  private
  public :: restart_write, restart_read

contains

  subroutine restart_write(path, grid, comm, root, state, nstep, start_date, hist, n_fallback_total, ml_state)
    character(*), intent(in) :: path
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    logical, intent(in) :: root
    type(physics_state), intent(in) :: state
    integer(int64), intent(in) :: nstep, n_fallback_total
    type(model_date), intent(in) :: start_date
    type(history_t), intent(in) :: hist
    real(r8), intent(in) :: ml_state(:, :)
    type(out_file) :: f
    integer :: n
    call out_open(f, path, root, 'hybridge-host restart', checksum=.true.)
    call out_int64(f, 'nstep', nstep)
    call out_int(f, 'start_year', start_date%year)
    call out_int(f, 'start_month', start_date%month)
    call out_int(f, 'start_day', start_date%day)
    call out_int(f, 'start_tod', start_date%tod)
    call out_int64(f, 'n_fallback_total', n_fallback_total)
    call out_int(f, 'hist_nsamples', hist%nsamples)
    call out_field(f, grid, comm, 'state_t', 'K', state%t)
    call out_field(f, grid, comm, 'state_q0001', 'kg/kg', state%q)
    call out_field(f, grid, comm, 'state_ps', 'Pa', reshape(state%ps, [1, state%ncol]))
    do n = 1, size(hist%prof_names)
      call out_field(f, grid, comm, 'hist_sum_'//trim(hist%prof_names(n)), '', hist%prof(:, :, n))
    end do
    do n = 1, size(hist%sfc_names)
      call out_field(f, grid, comm, 'hist_sum_'//trim(hist%sfc_names(n)), '', &
                     reshape(hist%sfc(:, n), [1, state%ncol]))
    end do
    call dynamics_restart_write(f)
    if (size(ml_state, 1) > 0) then
      call out_field(f, grid, comm, 'ml_state', '', ml_state, dim_name='ml_state_len')
    end if
    call out_close(f)
  end subroutine restart_write

  !> Every rank reads its own columns, after host_restart_check has verified the file.
  !! ml_state is allocated (len, ncol), len 0 if absent.
  subroutine restart_read(path, grid, state, nstep, start_date, hist, n_fallback_total, ml_state)
    character(*), intent(in) :: path
    type(grid_t), intent(in) :: grid
    type(physics_state), intent(inout) :: state
    integer(int64), intent(out) :: nstep, n_fallback_total
    type(model_date), intent(out) :: start_date
    type(history_t), intent(inout) :: hist
    real(r8), allocatable, intent(out) :: ml_state(:, :)
    integer :: ncid, n, dimid, len
    real(r8) :: sfc(1, grid%ncol)
    ncid = nc_open_read(path)
    nstep = get_int64(ncid, path, 'nstep')
    start_date%year = get_int(ncid, path, 'start_year')
    start_date%month = get_int(ncid, path, 'start_month')
    start_date%day = get_int(ncid, path, 'start_day')
    start_date%tod = get_int(ncid, path, 'start_tod')
    n_fallback_total = get_int64(ncid, path, 'n_fallback_total')
    hist%nsamples = get_int(ncid, path, 'hist_nsamples')
    call get_cols(ncid, path, grid, 'state_t', state%t)
    call get_cols(ncid, path, grid, 'state_q0001', state%q)
    call get_cols(ncid, path, grid, 'state_ps', sfc)
    state%ps = sfc(1, :)
    do n = 1, size(hist%prof_names)
      call get_cols(ncid, path, grid, 'hist_sum_'//trim(hist%prof_names(n)), hist%prof(:, :, n))
    end do
    do n = 1, size(hist%sfc_names)
      call get_cols(ncid, path, grid, 'hist_sum_'//trim(hist%sfc_names(n)), sfc)
      hist%sfc(:, n) = sfc(1, :)
    end do
    len = 0
    if (nf90_inq_dimid(ncid, 'ml_state_len', dimid) == nf90_noerr) then
      call nc_check(nf90_inquire_dimension(ncid, dimid, len=len), path, 'ml_state_len')
    end if
    allocate (ml_state(len, grid%ncol))
    if (len > 0) call get_cols(ncid, path, grid, 'ml_state', ml_state)
    call nc_check(nf90_close(ncid), path, 'close')
    call dynamics_restart_read(path)
  end subroutine restart_read

  integer function get_int(ncid, path, name)
    integer, intent(in) :: ncid
    character(*), intent(in) :: path, name
    integer :: varid
    call nc_check(nf90_inq_varid(ncid, name, varid), path, "variable '"//name//"'")
    call nc_check(nf90_get_var(ncid, varid, get_int), path, "reading '"//name//"'")
  end function get_int

  integer(int64) function get_int64(ncid, path, name)
    integer, intent(in) :: ncid
    character(*), intent(in) :: path, name
    integer :: varid
    call nc_check(nf90_inq_varid(ncid, name, varid), path, "variable '"//name//"'")
    call nc_check(nf90_get_var(ncid, varid, get_int64), path, "reading '"//name//"'")
  end function get_int64

  !> x(n, ncol_local) from a variable stored (n, ncol) in C order, or (ncol) when n = 1.
  subroutine get_cols(ncid, path, grid, name, x)
    integer, intent(in) :: ncid
    character(*), intent(in) :: path, name
    type(grid_t), intent(in) :: grid
    real(r8), intent(out) :: x(:, :)
    real(r8) :: buf(grid%ncol, size(x, 1))
    integer :: varid, ndims, dimids(2), dlen(2), k
    character(96) :: msg
    call nc_check(nf90_inq_varid(ncid, name, varid), path, "variable '"//name//"'")
    call nc_check(nf90_inquire_variable(ncid, varid, ndims=ndims, dimids=dimids), path, name)
    dlen = 1
    do k = 1, ndims
      call nc_check(nf90_inquire_dimension(ncid, dimids(k), len=dlen(k)), path, name)
    end do
    if (dlen(1) /= ncol_global .or. (ndims == 2 .and. dlen(2) /= size(x, 1)) .or. &
        (ndims == 1 .and. size(x, 1) /= 1)) then
      write (msg, '("shape (",i0,",",i0,") in Fortran order, expected (",i0,",",i0,")")') &
        dlen(1), dlen(2), ncol_global, size(x, 1)
      call abort_run("restart file '"//trim(path)//"': variable '"//name//"': "//trim(msg))
    end if
    if (ndims == 1) then
      call nc_check(nf90_get_var(ncid, varid, buf(:, 1), start=[grid%col_start], count=[grid%ncol]), path, name)
    else
      call nc_check(nf90_get_var(ncid, varid, buf, start=[grid%col_start, 1], &
                                 count=[grid%ncol, size(x, 1)]), path, name)
    end if
    x = transpose(buf)
  end subroutine get_cols
end module host_restart
