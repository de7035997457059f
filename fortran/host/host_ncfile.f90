!> Writing global netCDF files from distributed columns: each field is gathered to rank 0
!! in global column order and written there, under a temporary name that is renamed when
!! the file is complete. Profiles are stored with dimensions (lev, ncol) as in ClimSim.
module host_ncfile
  use host_constants, only: r8, nlev, ncol_global
  use host_files, only: rename_file
  use host_grid, only: grid_t
  use host_netcdf, only: nc_check
  use mpi_f08, only: MPI_Comm, MPI_Gatherv, MPI_DOUBLE_PRECISION
  use netcdf, only: nf90_clobber, nf90_close, nf90_create, nf90_def_dim, nf90_def_var, nf90_double, &
    nf90_enddef, nf90_global, nf90_int, nf90_netcdf4, nf90_put_att, nf90_put_var, nf90_redef
  implicit none (type, external)
  private
  public :: out_open, out_field, out_int, out_close, gather_columns

  type, public :: out_file
    character(:), allocatable :: path, tmp_path
    integer :: ncid = -1, dim_ncol = -1, dim_lev = -1
    logical :: root = .false.
  end type out_file

contains

  subroutine out_open(f, path, root, title)
    type(out_file), intent(out) :: f
    character(*), intent(in) :: path, title
    logical, intent(in) :: root
    f%path = path
    f%tmp_path = path//'.tmp'
    f%root = root
    if (.not. root) return
    call nc_check(nf90_create(f%tmp_path, ior(nf90_clobber, nf90_netcdf4), f%ncid), f%tmp_path, 'create')
    call nc_check(nf90_def_dim(f%ncid, 'ncol', ncol_global, f%dim_ncol), f%tmp_path, 'ncol')
    call nc_check(nf90_def_dim(f%ncid, 'lev', nlev, f%dim_lev), f%tmp_path, 'lev')
    call nc_check(nf90_put_att(f%ncid, nf90_global, 'title', title), f%tmp_path, 'title')
    call nc_check(nf90_put_att(f%ncid, nf90_global, 'source', 'hybridge-host'), f%tmp_path, 'source')
    call nc_check(nf90_enddef(f%ncid), f%tmp_path, 'enddef')
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
    real(r8), allocatable :: global(:, :)
    integer :: varid, dimid, n
    n = size(x, 1)
    allocate (global(n, merge(ncol_global, 0, f%root)))
    call gather_columns(grid, comm, x, global)
    if (.not. f%root) return
    call nc_check(nf90_redef(f%ncid), f%tmp_path, 'redef')
    if (present(dim_name)) then
      call nc_check(nf90_def_dim(f%ncid, dim_name, n, dimid), f%tmp_path, "dimension '"//dim_name//"'")
      call nc_check(nf90_def_var(f%ncid, name, nf90_double, [f%dim_ncol, dimid], varid), f%tmp_path, name)
    else if (n == 1) then
      call nc_check(nf90_def_var(f%ncid, name, nf90_double, [f%dim_ncol], varid), f%tmp_path, name)
    else
      call nc_check(nf90_def_var(f%ncid, name, nf90_double, [f%dim_ncol, f%dim_lev], varid), f%tmp_path, name)
    end if
    call nc_check(nf90_put_att(f%ncid, varid, 'units', units), f%tmp_path, name)
    call nc_check(nf90_enddef(f%ncid), f%tmp_path, 'enddef')
    if (n == 1 .and. .not. present(dim_name)) then
      call nc_check(nf90_put_var(f%ncid, varid, global(1, :)), f%tmp_path, name)
    else
      call nc_check(nf90_put_var(f%ncid, varid, transpose(global)), f%tmp_path, name)
    end if
  end subroutine out_field

  !> A scalar integer variable (written by rank 0).
  subroutine out_int(f, name, value)
    type(out_file), intent(inout) :: f
    character(*), intent(in) :: name
    integer, intent(in) :: value
    integer :: varid
    if (.not. f%root) return
    call nc_check(nf90_redef(f%ncid), f%tmp_path, 'redef')
    call nc_check(nf90_def_var(f%ncid, name, nf90_int, varid), f%tmp_path, name)
    call nc_check(nf90_enddef(f%ncid), f%tmp_path, 'enddef')
    call nc_check(nf90_put_var(f%ncid, varid, value), f%tmp_path, name)
  end subroutine out_int

  subroutine out_close(f)
    type(out_file), intent(inout) :: f
    if (.not. f%root) return
    call nc_check(nf90_close(f%ncid), f%tmp_path, 'close')
    call rename_file(f%tmp_path, f%path)
  end subroutine out_close
end module host_ncfile
