!> Writing global netCDF files from distributed columns: each field is gathered to rank 0
!! in global column order and written there, under a temporary name that is renamed when
!! the file is complete. Profiles are stored with dimensions (lev, ncol) as in ClimSim.
!! A file opened with checksum = .true. carries the SHA-256 of its data (host_checksum) in
!! the global attribute 'sha256'. A failed write stops the run naming the file and, when the
!! device is full, saying so; the incomplete temporary file is removed.
module host_ncfile
  use, intrinsic :: iso_fortran_env, only: int64
  use host_abort, only: abort_run
  use host_checksum, only: sha256_t, sha256_init, sha256_add_name, sha256_add, sha256_hex
  use host_constants, only: r8, nlev, ncol_global
  use host_files, only: rename_file, remove_file, free_bytes
  use host_grid, only: grid_t
  use mpi_f08, only: MPI_Comm, MPI_Gatherv, MPI_DOUBLE_PRECISION
  use netcdf, only: nf90_clobber, nf90_close, nf90_create, nf90_def_dim, nf90_def_var, nf90_double, &
    nf90_enddef, nf90_global, nf90_inq_dimid, nf90_int, nf90_int64, nf90_netcdf4, nf90_noerr, nf90_put_att, &
    nf90_put_var, nf90_redef, nf90_strerror
  implicit none (type, external)
  private
  public :: out_open, out_field, out_int, out_int64, out_att, out_array, out_close, gather_columns

  !> Below this many free bytes a failed write is reported as a full device.
  integer(int64), parameter :: nearly_full_bytes = 1048576_int64

  type, public :: out_file
    character(:), allocatable :: path, tmp_path
    integer :: ncid = -1, dim_ncol = -1, dim_lev = -1
    logical :: root = .false.
    logical :: checksum = .false.
    type(sha256_t) :: sha
  end type out_file

contains

  subroutine out_open(f, path, root, title, checksum)
    type(out_file), intent(out) :: f
    character(*), intent(in) :: path, title
    logical, intent(in) :: root
    logical, intent(in), optional :: checksum
    f%path = path
    f%tmp_path = path//'.tmp'
    f%root = root
    if (present(checksum)) f%checksum = checksum
    if (.not. root) return
    if (f%checksum) call sha256_init(f%sha)
    call write_check(f, nf90_create(f%tmp_path, ior(nf90_clobber, nf90_netcdf4), f%ncid), 'create')
    call write_check(f, nf90_def_dim(f%ncid, 'ncol', ncol_global, f%dim_ncol), 'ncol')
    call write_check(f, nf90_def_dim(f%ncid, 'lev', nlev, f%dim_lev), 'lev')
    call write_check(f, nf90_put_att(f%ncid, nf90_global, 'title', title), 'title')
    call write_check(f, nf90_put_att(f%ncid, nf90_global, 'source', 'hybridge-host'), 'source')
    call write_check(f, nf90_enddef(f%ncid), 'enddef')
  end subroutine out_open

  !> Gather x(n, ncol_local) of all ranks into global(n, ncol_global) on rank 0.
  subroutine gather_columns(grid, comm, x, global)
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    real(r8), intent(in) :: x(:, :)
    real(r8), intent(out) :: global(:, :)
    integer :: n
    n = size(x, 1)
    call MPI_Gatherv(x, n*grid%ncol, MPI_DOUBLE_PRECISION, global, n*grid%counts, n*grid%displs, &
                     MPI_DOUBLE_PRECISION, 0, comm)
  end subroutine gather_columns

  !> Collective: write x(n, ncol_local) as variable name. n = nlev gives (lev, ncol);
  !! n = 1 gives (ncol); other n define a dimension dim_name of that length.
  subroutine out_field(f, grid, comm, name, units, x, dim_name)
    type(out_file), intent(inout) :: f
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    character(*), intent(in) :: name, units
    real(r8), intent(in) :: x(:, :)
    character(*), intent(in), optional :: dim_name
    real(r8), allocatable :: global(:, :), stored(:, :)
    integer :: varid, dimid, n
    n = size(x, 1)
    allocate (global(n, merge(ncol_global, 0, f%root)))
    call gather_columns(grid, comm, x, global)
    if (.not. f%root) return
    call write_check(f, nf90_redef(f%ncid), 'redef')
    if (present(dim_name)) then
      call write_check(f, nf90_def_dim(f%ncid, dim_name, n, dimid), "dimension '"//dim_name//"'")
      call write_check(f, nf90_def_var(f%ncid, name, nf90_double, [f%dim_ncol, dimid], varid), name)
    else if (n == 1) then
      call write_check(f, nf90_def_var(f%ncid, name, nf90_double, [f%dim_ncol], varid), name)
    else
      call write_check(f, nf90_def_var(f%ncid, name, nf90_double, [f%dim_ncol, f%dim_lev], varid), name)
    end if
    call write_check(f, nf90_put_att(f%ncid, varid, 'units', units), name)
    call write_check(f, nf90_enddef(f%ncid), 'enddef')
    ! Stored (ncol, n) in Fortran order, i.e. (n, ncol) as netCDF (C order) shows it.
    stored = transpose(global)
    if (f%checksum) then
      call sha256_add_name(f%sha, name)
      call sha256_add(f%sha, reshape(stored, [size(stored)]))
    end if
    if (n == 1 .and. .not. present(dim_name)) then
      call write_check(f, nf90_put_var(f%ncid, varid, stored(:, 1)), name)
    else
      call write_check(f, nf90_put_var(f%ncid, varid, stored), name)
    end if
  end subroutine out_field

  !> A scalar integer variable (written by rank 0).
  subroutine out_int(f, name, value)
    type(out_file), intent(inout) :: f
    character(*), intent(in) :: name
    integer, intent(in) :: value
    integer :: varid
    if (.not. f%root) return
    call write_check(f, nf90_redef(f%ncid), 'redef')
    call write_check(f, nf90_def_var(f%ncid, name, nf90_int, varid), name)
    call write_check(f, nf90_enddef(f%ncid), 'enddef')
    if (f%checksum) then
      call sha256_add_name(f%sha, name)
      call sha256_add(f%sha, [value])
    end if
    call write_check(f, nf90_put_var(f%ncid, varid, value), name)
  end subroutine out_int

  !> A scalar 64-bit integer variable (written by rank 0): step counters.
  subroutine out_int64(f, name, value)
    type(out_file), intent(inout) :: f
    character(*), intent(in) :: name
    integer(int64), intent(in) :: value
    integer :: varid
    if (.not. f%root) return
    call write_check(f, nf90_redef(f%ncid), 'redef')
    call write_check(f, nf90_def_var(f%ncid, name, nf90_int64, varid), name)
    call write_check(f, nf90_enddef(f%ncid), 'enddef')
    if (f%checksum) then
      call sha256_add_name(f%sha, name)
      call sha256_add(f%sha, [value])
    end if
    call write_check(f, nf90_put_var(f%ncid, varid, value), name)
  end subroutine out_int64

  !> A real array every rank holds whole (written by rank 0): x holds product(dim_lens) values,
  !! the first dimension varying fastest (no dimensions: a scalar); dimensions are defined when
  !! the file has none of that name (a name already defined must have the same length).
  subroutine out_array(f, name, units, dim_names, dim_lens, x)
    type(out_file), intent(inout) :: f
    character(*), intent(in) :: name, units, dim_names(:)
    integer, intent(in) :: dim_lens(:)
    real(r8), intent(in) :: x(:)
    integer :: varid, k, dimids(size(dim_names))
    if (.not. f%root) return
    call write_check(f, nf90_redef(f%ncid), 'redef')
    do k = 1, size(dim_names)
      if (nf90_inq_dimid(f%ncid, trim(dim_names(k)), dimids(k)) /= nf90_noerr) then
        call write_check(f, nf90_def_dim(f%ncid, trim(dim_names(k)), dim_lens(k), dimids(k)), &
                         "dimension '"//trim(dim_names(k))//"'")
      end if
    end do
    if (size(dim_names) == 0) then
      call write_check(f, nf90_def_var(f%ncid, name, nf90_double, varid), name)
    else
      call write_check(f, nf90_def_var(f%ncid, name, nf90_double, dimids, varid), name)
    end if
    call write_check(f, nf90_put_att(f%ncid, varid, 'units', units), name)
    call write_check(f, nf90_enddef(f%ncid), 'enddef')
    if (f%checksum) then
      call sha256_add_name(f%sha, name)
      call sha256_add(f%sha, x)
    end if
    if (size(dim_names) == 0) then
      call write_check(f, nf90_put_var(f%ncid, varid, x(1)), name)
    else
      call write_check(f, nf90_put_var(f%ncid, varid, x, start=[(1, k=1, size(dim_lens))], count=dim_lens), name)
    end if
  end subroutine out_array

  !> A global attribute, text or integer (written by rank 0).
  subroutine out_att(f, name, value)
    type(out_file), intent(inout) :: f
    character(*), intent(in) :: name
    class(*), intent(in) :: value
    if (.not. f%root) return
    call write_check(f, nf90_redef(f%ncid), 'redef')
    select type (value)
    type is (character(*))
      call write_check(f, nf90_put_att(f%ncid, nf90_global, name, value), name)
    type is (integer)
      call write_check(f, nf90_put_att(f%ncid, nf90_global, name, value), name)
    class default
      call abort_run('out_att: attribute '//name//' of a type the host never writes')
    end select
    call write_check(f, nf90_enddef(f%ncid), 'enddef')
  end subroutine out_att

  subroutine out_close(f)
    type(out_file), intent(inout) :: f
    if (.not. f%root) return
    if (f%checksum) call out_att(f, 'sha256', sha256_hex(f%sha))
    call write_check(f, nf90_close(f%ncid), 'close')
    call rename_file(f%tmp_path, f%path)
  end subroutine out_close

  !> Stop the run when a netCDF call writing f failed: the message names the file and, when
  !! its device has (nearly) no space left, says so, since netCDF reports a full disk only as
  !! an HDF error. The incomplete temporary file is removed first.
  subroutine write_check(f, status, what)
    type(out_file), intent(inout) :: f
    integer, intent(in) :: status
    character(*), intent(in) :: what
    character(:), allocatable :: dir, rm_msg, msg
    integer(int64) :: avail
    integer :: slash, ignored
    logical :: removed
    if (status == nf90_noerr) return
    slash = index(f%path, '/', back=.true.)
    dir = '.'
    if (slash > 1) dir = f%path(1:slash - 1)
    avail = free_bytes(dir)
    if (avail >= 0 .and. avail < nearly_full_bytes) then
      msg = "no space left on device writing '"//f%path//"' ("//what//': '//trim(nf90_strerror(status))//')'
    else
      msg = "cannot write '"//f%path//"' ("//what//': '//trim(nf90_strerror(status))//')'
    end if
    if (f%ncid >= 0) ignored = nf90_close(f%ncid)   ! the write error is what gets reported
    call remove_file(f%tmp_path, removed, rm_msg)
    if (removed) then
      msg = msg//'; the incomplete '//f%tmp_path//' was removed'
    else
      msg = msg//'; the incomplete '//f%tmp_path//' could not be removed: '//rm_msg
    end if
    call abort_run(msg)
  end subroutine write_check
end module host_ncfile
