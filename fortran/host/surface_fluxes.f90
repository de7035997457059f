!> Bulk aerodynamic surface fluxes over the prescribed SST, computed by the surface
!! model before the atmospheric physics runs (they are the ClimSim inputs pbuf_LHFLX and
!! pbuf_SHFLX). Bulk formulae with a constant exchange coefficient, as in the idealized
!! moist GCM of Frierson et al. (2006) in its neutral limit; the state carries no wind,
!! so the surface wind speed is a prescribed constant (see e.g. Large and Yeager 2004,
!! NCAR Tech. Note TN-460, for the bulk formulae and coefficient magnitudes).
module surface_fluxes
  use host_constants, only: r8, nlev, rair, cpair, latvap, cappa
  use host_saturation, only: qsat
  use physics_types, only: physics_state
  implicit none (type, external)
  private
  public :: set_surface_fluxes

  real(r8), parameter :: c_exchange = 1.3e-3_r8   !< bulk exchange coefficient for heat and moisture
  real(r8), parameter :: wind_sfc = 5.0_r8         !< surface wind speed incl. gustiness [m/s]

contains

  !> shflx = rho cp C |V| (SST - T_1 (ps/p_1)^kappa): the SST minus the lowest level's
  !! temperature brought dry-adiabatically to the surface; lhflx = rho Lv C |V| (qsat(SST, ps) - q_1).
  subroutine set_surface_fluxes(state)
    type(physics_state), intent(inout) :: state
    real(r8) :: rho, t_surface_air
    integer :: i
    do i = 1, state%ncol
      t_surface_air = state%t(nlev, i)*(state%ps(i)/state%pmid(nlev, i))**cappa
      rho = state%pmid(nlev, i)/(rair*state%t(nlev, i))
      state%shflx(i) = rho*cpair*c_exchange*wind_sfc*(state%sst(i) - t_surface_air)
      state%lhflx(i) = rho*latvap*c_exchange*wind_sfc*(qsat(state%sst(i), state%ps(i)) - state%q(nlev, i))
    end do
  end subroutine set_surface_fluxes
end module surface_fluxes
