!> Thin checked wrappers over netcdf-fortran: every failure names the file and variable.
module host_netcdf
  use host_abort, only: abort_run
  use host_constants, only: r8
  use netcdf, only: nf90_get_var, nf90_inq_varid, nf90_inquire_dimension, nf90_inquire_variable, &
    nf90_noerr, nf90_nowrite, nf90_open, nf90_strerror
  implicit none (type, external)
  private
  public :: nc_check, nc_open_read, nc_read_1d, nc_read_scalar

contains

  !> Stop with a message naming the file and what was being done.
  subroutine nc_check(status, filename, what)
    integer, intent(in) :: status
    character(*), intent(in) :: filename, what
    if (status /= nf90_noerr) then
      call abort_run("netCDF file '"//trim(filename)//"': "//what//': '//trim(nf90_strerror(status)))
    end if
  end subroutine nc_check

  integer function nc_open_read(filename) result(ncid)
    character(*), intent(in) :: filename
    call nc_check(nf90_open(filename, nf90_nowrite, ncid), filename, 'open for reading')
  end function nc_open_read

  !> Read a 1-d real variable and check its length.
  subroutine nc_read_1d(ncid, filename, name, values, expected)
    integer, intent(in) :: ncid, expected
    character(*), intent(in) :: filename, name
    real(r8), intent(out) :: values(:)
    integer :: varid, ndims, dimids(4), n
    character(64) :: msg
    call nc_check(nf90_inq_varid(ncid, name, varid), filename, "variable '"//name//"'")
    call nc_check(nf90_inquire_variable(ncid, varid, ndims=ndims, dimids=dimids), filename, name)
    n = 0
    if (ndims >= 1) call nc_check(nf90_inquire_dimension(ncid, dimids(1), len=n), filename, name)
    if (n /= expected .or. size(values) /= expected) then
      write (msg, '("expected length ",i0,", got ",i0)') expected, n
      call abort_run("netCDF file '"//trim(filename)//"': variable '"//name//"': "//trim(msg))
    end if
    call nc_check(nf90_get_var(ncid, varid, values, count=[expected]), filename, "reading '"//name//"'")
  end subroutine nc_read_1d

  real(r8) function nc_read_scalar(ncid, filename, name) result(value)
    integer, intent(in) :: ncid
    character(*), intent(in) :: filename, name
    integer :: varid
    call nc_check(nf90_inq_varid(ncid, name, varid), filename, "variable '"//name//"'")
    call nc_check(nf90_get_var(ncid, varid, value), filename, "reading '"//name//"'")
  end function nc_read_scalar
end module host_netcdf
