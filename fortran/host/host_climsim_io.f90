!> ClimSim-format physics input/output files, so the Python toolkit trains on them unchanged:
!!   <output_dir>/YYYY-MM/<case>.mli.YYYY-MM-DD-SSSSS.nc  the state the physics receives
!!   <output_dir>/YYYY-MM/<case>.mlo.YYYY-MM-DD-SSSSS.nc  the state after the physics and cam_out
!! with dimensions ncol = 384, lev = 60 and ClimSim v1 variable names; both files of a pair
!! carry the time stamp of the step's start, and ptend = (mlo.state - mli.state)/1200 s is
!! exactly what the physics did in that step.
module host_climsim_io
  use host_calendar, only: model_date, date_tag, month_tag
  use host_constants, only: r8
  use host_files, only: make_dirs
  use host_grid, only: grid_t
  use host_ncfile, only: out_file, out_open, out_field, out_int, out_close
  use mpi_f08, only: MPI_Comm
  use physics_types, only: physics_state, cam_out_t
  implicit none (type, external)
  private
  public :: write_mli, write_mlo

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

  subroutine write_mli(output_dir, case_name, d, grid, comm, root, state)
    character(*), intent(in) :: output_dir, case_name
    type(model_date), intent(in) :: d
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    logical, intent(in) :: root
    type(physics_state), intent(in) :: state
    type(out_file) :: f
    call out_open(f, pair_path(output_dir, case_name, 'mli', d, root), root, 'hybridge-host physics input')
    call write_date(f, d)
    call out_field(f, grid, comm, 'state_t', 'K', state%t)
    call out_field(f, grid, comm, 'state_q0001', 'kg/kg', state%q)
    call out_field(f, grid, comm, 'state_ps', 'Pa', sfc(state%ps))
    call out_field(f, grid, comm, 'pbuf_SOLIN', 'W/m2', sfc(state%solin))
    call out_field(f, grid, comm, 'pbuf_LHFLX', 'W/m2', sfc(state%lhflx))
    call out_field(f, grid, comm, 'pbuf_SHFLX', 'W/m2', sfc(state%shflx))
    call out_close(f)
  end subroutine write_mli

  subroutine write_mlo(output_dir, case_name, d, grid, comm, root, state, cam_out)
    character(*), intent(in) :: output_dir, case_name
    type(model_date), intent(in) :: d
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    logical, intent(in) :: root
    type(physics_state), intent(in) :: state
    type(cam_out_t), intent(in) :: cam_out
    type(out_file) :: f
    call out_open(f, pair_path(output_dir, case_name, 'mlo', d, root), root, 'hybridge-host physics output')
    call write_date(f, d)
    call out_field(f, grid, comm, 'state_t', 'K', state%t)
    call out_field(f, grid, comm, 'state_q0001', 'kg/kg', state%q)
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

  !> A surface field as a (1, ncol) array for out_field.
  pure function sfc(x)
    real(r8), intent(in) :: x(:)
    real(r8) :: sfc(1, size(x))
    sfc(1, :) = x
  end function sfc
end module host_climsim_io
