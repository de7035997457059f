!> Simplified Betts-Miller convection (Frierson 2007, J. Atmos. Sci. 64, 1959-1976):
!! where a parcel lifted from the lowest level is buoyant, temperature relaxes to the
!! parcel's moist adiabat and humidity to a fixed relative humidity of it, over tau_sbm.
!! Precipitation is the column moisture removed; the reference temperature is shifted by a
!! constant so that the latent heat released equals the enthalpy gained (Frierson's
!! "deep convection" case). Columns where the moisture or the heating integral is not
!! positive do not convect (Frierson's shallow-convection option is left out).
module convection_sbm
  use host_constants, only: r8, nlev, gravit, cpair, latvap, cappa, dtime
  use host_saturation, only: qsat, dqsat_dt
  use physics_types, only: physics_state
  implicit none (type, external)
  private
  public :: convection_apply

  real(r8), parameter :: tau_sbm = 7200.0_r8     !< relaxation time [s] (Frierson 2007)
  real(r8), parameter :: rh_sbm = 0.7_r8        !< reference relative humidity (Frierson 2007)
  real(r8), parameter :: p_top_min = 10000.0_r8  !< convection never reaches above this [Pa]
  real(r8), parameter :: p00 = 1.0e5_r8

contains

  !> Update t, q of column i in place; precip: convective precipitation [kg/m2] this step.
  subroutine convection_apply(state, i, t, q, precip)
    type(physics_state), intent(in) :: state
    integer, intent(in) :: i
    real(r8), intent(inout) :: t(nlev), q(nlev)
    real(r8), intent(out) :: precip
    real(r8) :: t_parcel(nlev), t_ref(nlev), q_ref(nlev), dt_conv(nlev), dq_conv(nlev)
    real(r8) :: p_q, p_t, mass, dt_shift, frac
    integer :: k, k_top

    precip = 0.0_r8
    call parcel_profile(state%pmid(:, i), t(nlev), q(nlev), t_parcel)
    ! Level of neutral buoyancy: highest level of the buoyant layer above the parcel's origin.
    k_top = 0
    do k = nlev - 1, 1, -1
      if (state%pmid(k, i) < p_top_min) exit
      if (t_parcel(k) > t(k)) then
        k_top = k
      else if (k_top > 0) then
        exit
      end if
    end do
    if (k_top == 0) return

    frac = dtime/tau_sbm
    t_ref = t
    q_ref = q
    t_ref(k_top:nlev) = t_parcel(k_top:nlev)
    q_ref(k_top:nlev) = rh_sbm*qsat(t_parcel(k_top:nlev), state%pmid(k_top:nlev, i))
    dt_conv = -(t - t_ref)*frac
    dq_conv = -(q - q_ref)*frac
    p_q = -sum(dq_conv(k_top:nlev)*state%pdel(k_top:nlev, i))/gravit
    p_t = sum(cpair*dt_conv(k_top:nlev)*state%pdel(k_top:nlev, i))/(gravit*latvap)
    if (p_q <= 0.0_r8 .or. p_t <= 0.0_r8) return

    ! Enthalpy conservation: cp * sum(dT dp/g) = Lv * precip.
    mass = sum(state%pdel(k_top:nlev, i))/gravit
    dt_shift = (latvap*p_q - cpair*sum(dt_conv(k_top:nlev)*state%pdel(k_top:nlev, i))/gravit)/(cpair*mass)
    t(k_top:nlev) = t(k_top:nlev) + dt_conv(k_top:nlev) + dt_shift
    q(k_top:nlev) = q(k_top:nlev) + dq_conv(k_top:nlev)
    precip = p_q
  end subroutine convection_apply

  !> Temperature of a parcel lifted from the lowest level: dry adiabat up to saturation,
  !! then the pseudo-adiabat of constant theta_e = T (p00/p)^kappa exp(Lv qs/(cp T))
  !! (Bolton-free textbook form, e.g. Emanuel 1994, Atmospheric Convection, ch. 4).
  subroutine parcel_profile(pmid, t_start, q_start, t_parcel)
    real(r8), intent(in) :: pmid(nlev), t_start, q_start
    real(r8), intent(out) :: t_parcel(nlev)
    real(r8) :: ln_theta_e, tp, f, fprime, qs, t_dry, step
    integer :: k, iter
    ln_theta_e = log(t_start) + cappa*log(p00/pmid(nlev)) + latvap*q_start/(cpair*t_start)
    t_parcel = t_start
    tp = t_start
    do k = nlev - 1, 1, -1
      if (pmid(k) < p_top_min) exit   ! convection never reaches there
      t_dry = t_start*(pmid(k)/pmid(nlev))**cappa
      if (q_start < qsat(t_dry, pmid(k))) then
        t_parcel(k) = t_dry
        tp = t_dry
        cycle
      end if
      ! Newton iteration from the level below; converges in a few steps.
      do iter = 1, 10
        qs = qsat(tp, pmid(k))
        f = log(tp) + cappa*log(p00/pmid(k)) + latvap*qs/(cpair*tp) - ln_theta_e
        fprime = 1.0_r8/tp + latvap/cpair*(dqsat_dt(tp, pmid(k))/tp - qs/(tp*tp))
        step = f/fprime
        tp = tp - step
        if (abs(step) < 1.0e-6_r8) exit
      end do
      t_parcel(k) = tp
    end do
  end subroutine parcel_profile
end module convection_sbm
