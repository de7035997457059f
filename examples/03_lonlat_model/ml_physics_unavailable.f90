!> The build-time stand-in for ml_physics.f90 when the model is built without hybridge
!> (cmake -DLONLAT_WITH_HYBRIDGE=OFF): the same interface; asking for ML physics is an error.
module ml_physics
  use, intrinsic :: iso_fortran_env, only: real64
  use lonlat_state, only: state_t
  implicit none (type, external)
  private
  public :: ml_available, ml_init, ml_tendencies, ml_finalize

  logical, parameter :: ml_available = .false.

contains

  subroutine ml_init(model_path, options, ok, errmsg)
    character(*), intent(in) :: model_path, options
    logical, intent(out) :: ok
    character(*), intent(inout) :: errmsg

    ok = .false.
    errmsg = 'this build has no ML physics (built without hybridge); cannot load ' // trim(model_path) // &
             ' with options ' // trim(options)
  end subroutine ml_init

  subroutine ml_tendencies(s, dtdt, dqdt, ok, errmsg)
    type(state_t), intent(in) :: s
    real(real64), intent(out) :: dtdt(:, :, :), dqdt(:, :, :)
    logical, intent(out) :: ok
    character(*), intent(inout) :: errmsg

    dtdt = 0.0_real64 * s%t
    dqdt = 0.0_real64
    ok = .false.
    errmsg = 'this build has no ML physics'
  end subroutine ml_tendencies

  subroutine ml_finalize()
  end subroutine ml_finalize
end module ml_physics
