!> The model's own physics: Newtonian relaxation of T towards a radiative-equilibrium profile
!> (Held and Suarez 1994, eq. 1, with one time scale) and no moisture tendency.
module conventional_physics
  use, intrinsic :: iso_fortran_env, only: real64
  use lonlat_state, only: nlev, state_t
  implicit none (type, external)
  private
  public :: conventional_tendencies

contains

  subroutine conventional_tendencies(s, dtdt, dqdt)
    type(state_t), intent(in) :: s
    real(real64), intent(out) :: dtdt(:, :, :), dqdt(:, :, :)  !< K/s, kg/kg/s, (lon, lat, lev)
    real(real64), parameter :: tau = 40.0_real64 * 86400.0_real64  !< s
    integer :: k

    do k = 1, nlev
      dtdt(:, :, k) = (200.0_real64 + 10.0_real64 * k - s%t(:, :, k)) / tau
    end do
    dqdt = 0.0_real64
  end subroutine conventional_tendencies
end module conventional_physics
