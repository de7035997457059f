!> Saturation vapour pressure and specific humidity, Clausius-Clapeyron form with
!! constant latent heat, as in the gray-radiation moist GCM of Frierson, Held and
!! Zurita-Gotor (2006, J. Atmos. Sci. 63, 2548-2566, eq. 7).
module host_saturation
  use host_constants, only: r8, latvap, rh2o, epsilo
  implicit none (type, external)
  private
  public :: esat, qsat, dqsat_dt

  real(r8), parameter :: e0 = 610.78_r8   !< saturation vapour pressure at t0 [Pa]
  real(r8), parameter :: t0 = 273.16_r8   !< [K]

contains

  !> Saturation vapour pressure [Pa] at temperature t [K].
  elemental real(r8) function esat(t)
    real(r8), intent(in) :: t
    esat = e0*exp(-latvap/rh2o*(1.0_r8/t - 1.0_r8/t0))
  end function esat

  !> Saturation specific humidity [kg/kg] at temperature t [K] and pressure p [Pa].
  !! The vapour pressure is capped at p so the expression stays bounded near the model top.
  elemental real(r8) function qsat(t, p)
    real(r8), intent(in) :: t, p
    real(r8) :: es
    es = min(esat(t), 0.5_r8*p)
    qsat = epsilo*es/(p - (1.0_r8 - epsilo)*es)
  end function qsat

  !> d qsat / dT [kg/kg/K] (Clausius-Clapeyron, small-es approximation).
  elemental real(r8) function dqsat_dt(t, p)
    real(r8), intent(in) :: t, p
    dqsat_dt = qsat(t, p)*latvap/(rh2o*t*t)
  end function dqsat_dt
end module host_saturation
