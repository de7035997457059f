!> The Held-Suarez forcing (Held and Suarez 1994, Bull. Am. Meteorol. Soc. 75, 1825-1830),
!! a physics package for the dry dynamical core: Newtonian relaxation of temperature towards a
!! zonally symmetric radiative-equilibrium state and Rayleigh friction in the boundary layer.
!! physics_state in, physics_ptend (t, u, v) out; humidity is left alone.
!!   k_v = k_f max(0, (sigma - sigma_b)/(1 - sigma_b))                              (HS94 eq. 4)
!!   k_T = k_a + (k_s - k_a) max(0, (sigma - sigma_b)/(1 - sigma_b)) cos^4(lat)      (HS94 eq. 5)
!!   T_eq = max(200 K, [315 K - dT_y sin^2(lat) - dtheta_z ln(p/p0) cos^2(lat)] (p/p0)^kappa)  (eq. 3)
!! with k_f = 1/day, k_a = 1/40 day, k_s = 1/4 day, sigma_b = 0.7, dT_y = 60 K,
!! dtheta_z = 10 K, p0 = 1000 hPa, sigma = p/ps.
module held_suarez
  use host_constants, only: r8, nlev, cappa, seconds_per_day
  use physics_types, only: physics_state, physics_ptend
  implicit none (type, external)
  private
  public :: held_suarez_tend, held_suarez_t_eq

  real(r8), parameter :: k_f = 1.0_r8/seconds_per_day          !< boundary-layer friction [s-1]
  real(r8), parameter :: k_a = 1.0_r8/(40.0_r8*seconds_per_day)  !< free-atmosphere relaxation [s-1]
  real(r8), parameter :: k_s = 1.0_r8/(4.0_r8*seconds_per_day)  !< surface relaxation [s-1]
  real(r8), parameter :: sigma_b = 0.7_r8                       !< top of the boundary layer
  real(r8), parameter :: delta_t_y = 60.0_r8                    !< equator-pole contrast [K]
  real(r8), parameter :: delta_theta_z = 10.0_r8                !< static stability [K]
  real(r8), parameter :: t_strat = 200.0_r8                     !< stratospheric T_eq [K]
  real(r8), parameter :: p_ref = 1.0e5_r8                       !< [Pa]

contains

  !> Radiative-equilibrium temperature [K] at latitude lat [rad] and pressure p [Pa].
  elemental real(r8) function held_suarez_t_eq(lat, p)
    real(r8), intent(in) :: lat, p
    held_suarez_t_eq = max(t_strat, (315.0_r8 - delta_t_y*sin(lat)**2 - delta_theta_z*log(p/p_ref)*cos(lat)**2) &
                           *(p/p_ref)**cappa)
  end function held_suarez_t_eq

  subroutine held_suarez_tend(state, ptend)
    type(physics_state), intent(in) :: state
    type(physics_ptend), intent(inout) :: ptend
    real(r8) :: sigma, boundary, k_v, k_t
    integer :: i, k
    do i = 1, state%ncol
      do k = 1, nlev
        sigma = state%pmid(k, i)/state%ps(i)
        boundary = max(0.0_r8, (sigma - sigma_b)/(1.0_r8 - sigma_b))
        k_v = k_f*boundary
        k_t = k_a + (k_s - k_a)*boundary*cos(state%lat(i))**4
        ptend%u(k, i) = -k_v*state%u(k, i)
        ptend%v(k, i) = -k_v*state%v(k, i)
        ptend%t(k, i) = -k_t*(state%t(k, i) - held_suarez_t_eq(state%lat(i), state%pmid(k, i)))
        ptend%q(k, i) = 0.0_r8
      end do
    end do
  end subroutine held_suarez_tend
end module held_suarez
