!> ClimSim-format physics input/output files, so the Python toolkit trains on them unchanged:
!!   <output_dir>/YYYY-MM/<case>.mli.YYYY-MM-DD-SSSSS.nc  the state the physics receives
!!   <output_dir>/YYYY-MM/<case>.mlo.YYYY-MM-DD-SSSSS.nc  the state after the physics and cam_out
!! with dimensions ncol and lev (384 and 60 on the ClimSim grid) and ClimSim variable names
!! (v1, plus state_u and state_v with the dynamical core); both files of a pair carry the time
!! stamp of the step's start, and ptend = (mlo.state - mli.state)/1200 s is exactly what the
!! physics did in that step. <output_dir>/<case>.grid-info.nc describes the grid as ClimSim's
!! grid file does (lat, lon, area, hyam, hybm, hyai, hybi, P0, PS).
!! Columns are those of the grid (host_grid), in global order.
module host_climsim_io
  use host_calendar, only: model_date, date_tag, month_tag
  use host_constants, only: r8, nlev, pi
  use host_files, only: make_dirs
  use host_grid, only: grid_t
  use host_ncfile, only: out_file, out_open, out_field, out_int, out_att, out_array, out_close
  use mpi_f08, only: MPI_Comm
  use physics_types, only: physics_state, cam_out_t
  implicit none (type, external)
  private
  public :: write_mli, write_mlo, write_grid_file

contains

  function pair_path(output_dir, case_name, kind, d, root) result(path)
    character(*), intent(in) :: output_dir, case_name, kind
    type(model_date), intent(in) :: d
    logical, intent(in) :: root
    character(:), allocatable :: path
    if (root) call make_dirs(trim(output_dir)//'/'//month_tag(d))
    path = trim(output_dir)//'/'//month_tag(d)//'/'//trim(case_name)//'.'//kind//'.'//date_tag(d)//'.nc'
  end function pair_path

  subroutine write_date(f, d)
    type(out_file), intent(inout) :: f
    type(model_date), intent(in) :: d
    call out_int(f, 'ymd', d%year*10000 + d%month*100 + d%day)
    call out_int(f, 'tod', d%tod)
  end subroutine write_date

  !> winds: the state has winds (dynamical core): state_u and state_v are written too.
  subroutine write_mli(output_dir, case_name, d, grid, comm, root, state, winds)
    character(*), intent(in) :: output_dir, case_name
    type(model_date), intent(in) :: d
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    logical, intent(in) :: root, winds
    type(physics_state), intent(in) :: state
    type(out_file) :: f
    call out_open(f, pair_path(output_dir, case_name, 'mli', d, root), root, 'hybridge-host physics input')
    call write_date(f, d)
    call out_field(f, grid, comm, 'state_t', 'K', state%t)
    call out_field(f, grid, comm, 'state_q0001', 'kg/kg', state%q)
    if (winds) then
      call out_field(f, grid, comm, 'state_u', 'm/s', state%u)
      call out_field(f, grid, comm, 'state_v', 'm/s', state%v)
    end if
    call out_field(f, grid, comm, 'state_ps', 'Pa', sfc(state%ps))
    call out_field(f, grid, comm, 'pbuf_SOLIN', 'W/m2', sfc(state%solin))
    call out_field(f, grid, comm, 'pbuf_LHFLX', 'W/m2', sfc(state%lhflx))
    call out_field(f, grid, comm, 'pbuf_SHFLX', 'W/m2', sfc(state%shflx))
    call out_close(f)
  end subroutine write_mli

  subroutine write_mlo(output_dir, case_name, d, grid, comm, root, state, cam_out, winds)
    character(*), intent(in) :: output_dir, case_name
    type(model_date), intent(in) :: d
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    logical, intent(in) :: root, winds
    type(physics_state), intent(in) :: state
    type(cam_out_t), intent(in) :: cam_out
    type(out_file) :: f
    call out_open(f, pair_path(output_dir, case_name, 'mlo', d, root), root, 'hybridge-host physics output')
    call write_date(f, d)
    call out_field(f, grid, comm, 'state_t', 'K', state%t)
    call out_field(f, grid, comm, 'state_q0001', 'kg/kg', state%q)
    if (winds) then
      call out_field(f, grid, comm, 'state_u', 'm/s', state%u)
      call out_field(f, grid, comm, 'state_v', 'm/s', state%v)
    end if
    call out_field(f, grid, comm, 'state_ps', 'Pa', sfc(state%ps))
    call out_field(f, grid, comm, 'cam_out_NETSW', 'W/m2', sfc(cam_out%netsw))
    call out_field(f, grid, comm, 'cam_out_FLWDS', 'W/m2', sfc(cam_out%flwds))
    call out_field(f, grid, comm, 'cam_out_PRECSC', 'm/s', sfc(cam_out%precsc))
    call out_field(f, grid, comm, 'cam_out_PRECC', 'm/s', sfc(cam_out%precc))
    call out_field(f, grid, comm, 'cam_out_SOLS', 'W/m2', sfc(cam_out%sols))
    call out_field(f, grid, comm, 'cam_out_SOLL', 'W/m2', sfc(cam_out%soll))
    call out_field(f, grid, comm, 'cam_out_SOLSD', 'W/m2', sfc(cam_out%solsd))
    call out_field(f, grid, comm, 'cam_out_SOLLD', 'W/m2', sfc(cam_out%solld))
    call out_close(f)
  end subroutine write_mlo

  !> Collective: <output_dir>/<case>.grid-info.nc, the grid in the variables and units of
  !! ClimSim's grid file: lat, lon [degrees], area [sr], hyam, hybm (lev), hyai, hybi (ilev),
  !! P0 [Pa] and PS, the initial surface pressure [Pa]; description names the grid.
  subroutine write_grid_file(output_dir, case_name, grid, comm, root, description)
    character(*), intent(in) :: output_dir, case_name, description
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    logical, intent(in) :: root
    type(out_file) :: f
    character(4) :: scalar_dims(0)   ! P0 is a scalar, as in ClimSim's grid file
    integer :: c0, c1, scalar_lens(0)
    c0 = grid%col_start
    c1 = grid%col_start + grid%ncol - 1
    call out_open(f, trim(output_dir)//'/'//trim(case_name)//'.grid-info.nc', root, 'hybridge-host grid')
    call out_att(f, 'grid', description)
    call out_field(f, grid, comm, 'lat', 'degrees_north', sfc(grid%lat(c0:c1)*(180.0_r8/pi)))
    call out_field(f, grid, comm, 'lon', 'degrees_east', sfc(grid%lon(c0:c1)*(180.0_r8/pi)))
    call out_field(f, grid, comm, 'area', 'sr', sfc(grid%area(c0:c1)))
    call out_field(f, grid, comm, 'PS', 'Pa', sfc(grid%ps0(c0:c1)))
    call out_array(f, 'hyam', '1', [character(4) :: 'lev'], [nlev], grid%hyam)
    call out_array(f, 'hybm', '1', [character(4) :: 'lev'], [nlev], grid%hybm)
    call out_array(f, 'hyai', '1', [character(4) :: 'ilev'], [nlev + 1], grid%hyai)
    call out_array(f, 'hybi', '1', [character(4) :: 'ilev'], [nlev + 1], grid%hybi)
    call out_array(f, 'P0', 'Pa', scalar_dims, scalar_lens, [grid%p0])
    call out_close(f)
  end subroutine write_grid_file

  !> A surface field as a (1, ncol) array for out_field.
  pure function sfc(x)
    real(r8), intent(in) :: x(:)
    real(r8) :: sfc(1, size(x))
    sfc(1, :) = x
  end function sfc
end module host_climsim_io
