!> Bulk aerodynamic surface fluxes over the prescribed SST, computed by the surface
!! model before the atmospheric physics runs (they are the ClimSim inputs pbuf_LHFLX and
!! pbuf_SHFLX). Bulk formulae with a constant exchange coefficient, as in the idealized
!! moist GCM of Frierson et al. (2006) in its neutral limit (see e.g. Large and Yeager 2004,
!! NCAR Tech. Note TN-460, for the bulk formulae and coefficient magnitudes). The wind speed is
!! |V| = sqrt(u_1^2 + v_1^2 + w_g^2) with the lowest level's wind and a gustiness w_g
!! (e.g. Beljaars 1995, Q. J. R. Meteorol. Soc. 121, 255): 1 m/s over the winds of the dynamical
!! core; without dynamics the state has no wind and w_g = 5 m/s stands in for all of it.
module surface_fluxes
  use host_constants, only: r8, nlev, rair, cpair, latvap, cappa
  use host_saturation, only: qsat
  use physics_types, only: physics_state
  implicit none (type, external)
  private
  public :: set_surface_fluxes, set_gustiness, surface_wind_speed

  !> Bulk exchange coefficient for heat, moisture and momentum.
  real(r8), parameter, public :: c_exchange = 1.3e-3_r8
  real(r8) :: gustiness = 5.0_r8                   !< w_g [m/s]

contains

  !> shflx = rho cp C |V| (SST - T_1 (ps/p_1)^kappa): the SST minus the lowest level's
  !! temperature brought dry-adiabatically to the surface; lhflx = rho Lv C |V| (qsat(SST, ps) - q_1).
  subroutine set_surface_fluxes(state)
    type(physics_state), intent(inout) :: state
    real(r8) :: rho, t_surface_air, wind
    integer :: i
    do i = 1, state%ncol
      t_surface_air = state%t(nlev, i)*(state%ps(i)/state%pmid(nlev, i))**cappa
      rho = state%pmid(nlev, i)/(rair*state%t(nlev, i))
      wind = surface_wind_speed(state, i)
      state%shflx(i) = rho*cpair*c_exchange*wind*(state%sst(i) - t_surface_air)
      state%lhflx(i) = rho*latvap*c_exchange*wind*(qsat(state%sst(i), state%ps(i)) - state%q(nlev, i))
    end do
  end subroutine set_surface_fluxes

  !> |V| of column i [m/s].
  real(r8) function surface_wind_speed(state, i)
    type(physics_state), intent(in) :: state
    integer, intent(in) :: i
    surface_wind_speed = sqrt(state%u(nlev, i)**2 + state%v(nlev, i)**2 + gustiness**2)
  end function surface_wind_speed

  !> w_g [m/s], set once at start by the dynamics.
  subroutine set_gustiness(speed)
    real(r8), intent(in) :: speed
    gustiness = speed
  end subroutine set_gustiness
end module surface_fluxes
