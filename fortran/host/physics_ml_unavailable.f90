!> physics_ml for a hybridge-host built without the hybridge library
!! (CMake found no target `hybridge` with its Fortran module): the conventional mode
!! works, and asking for an emulator stops with a message saying why.
module physics_ml
  use host_abort, only: abort_run
  use host_constants, only: r8
  use host_namelist, only: host_config
  use mpi_f08, only: MPI_Comm
  use physics_types, only: physics_state, physics_ptend, cam_out_t
  implicit none (type, external)
  private
  public :: ml_init, ml_physics, ml_state_size, ml_get_state, ml_set_state, ml_finalize

contains

  subroutine ml_init(cfg, ncol, comm)
    type(host_config), intent(in) :: cfg
    integer, intent(in) :: ncol
    type(MPI_Comm), intent(in) :: comm
    call abort_run("physics_mode = '"//trim(cfg%physics_mode)//"' needs the hybridge library, "// &
                   'but this hybridge-host was built without it')
  end subroutine ml_init

  subroutine ml_physics(state, ptend, cam_out, col_ok, guarded, ok, errmsg)
    type(physics_state), intent(in) :: state
    type(physics_ptend), intent(inout) :: ptend
    type(cam_out_t), intent(inout) :: cam_out
    logical, intent(out) :: col_ok(:), guarded(:), ok
    character(:), allocatable, intent(out) :: errmsg
    col_ok = .false.
    guarded = .false.
    ok = .false.
    errmsg = 'hybridge-host was built without the hybridge library'
  end subroutine ml_physics

  integer function ml_state_size()
    ml_state_size = 0
  end function ml_state_size

  subroutine ml_get_state(buf)
    real(r8), intent(out) :: buf(:, :)
    buf = 0.0_r8
  end subroutine ml_get_state

  subroutine ml_set_state(buf)
    real(r8), intent(in) :: buf(:, :)
    if (size(buf) > 0) call abort_run('restart file holds emulator state, but this hybridge-host has no hybridge library')
  end subroutine ml_set_state

  subroutine ml_finalize()
  end subroutine ml_finalize
end module physics_ml
