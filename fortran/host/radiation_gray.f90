!> Gray radiation (Frierson, Held and Zurita-Gotor 2006, J. Atmos. Sci. 63, 2548-2566,
!! section 2a): one longwave band with a prescribed optical depth
!!   tau(p) = tau0(lat) [ f_l p/ps + (1 - f_l) (p/ps)^4 ],  tau0 = tau_e + (tau_p - tau_e) sin^2(lat),
!! two-stream fluxes  dU/dtau = U - B,  dD/dtau = B - D,  B = sigma T^4.
!! Shortwave: insolation attenuated as S(p) = SOLIN exp(-tau_sw (p/ps)^2) (the absorbing
!! gray atmosphere of Isca, Vallis et al. 2018, Geosci. Model Dev. 11, 843-859), reflected
!! by the surface albedo straight to space. The surface beam is split into direct and
!! diffuse by a scattering optical depth on the slant path (Beer's law) and into visible and
!! near-infrared halves, giving the ClimSim fields SOLS, SOLL, SOLSD, SOLLD.
module radiation_gray
  use host_constants, only: r8, nlev, gravit, cpair, stebol
  use physics_types, only: physics_state, cam_out_t
  implicit none (type, external)
  private
  public :: radiation_tend

  real(r8), parameter :: tau_e = 7.2_r8, tau_p = 1.8_r8, f_linear = 0.1_r8   ! FHZ 2006
  real(r8), parameter :: albedo = 0.31_r8                                      ! FHZ 2006
  real(r8), parameter :: tau_sw = 0.22_r8       !< shortwave absorption optical depth at ps
  real(r8), parameter :: tau_scatter = 0.1_r8   !< scattering optical depth for the diffuse part
  real(r8), parameter :: visible_fraction = 0.5_r8

contains

  !> Heating rate t_tend [K/s]; surface fields into cam_out; rad_col: column radiative
  !! heating [W/m2] (net flux into the top minus net flux out at the bottom).
  subroutine radiation_tend(state, t_tend, cam_out, rad_col)
    type(physics_state), intent(in) :: state
    real(r8), intent(out) :: t_tend(:, :)
    type(cam_out_t), intent(inout) :: cam_out
    real(r8), intent(out) :: rad_col(:)
    real(r8) :: tau(nlev + 1), up(nlev + 1), dn(nlev + 1), sw(nlev + 1), b(nlev), tr(nlev)
    real(r8) :: tau0, sigma, mu, direct, sw_sfc
    integer :: i, k
    do i = 1, state%ncol
      tau0 = tau_e + (tau_p - tau_e)*sin(state%lat(i))**2
      do k = 1, nlev + 1
        sigma = state%pint(k, i)/state%ps(i)
        tau(k) = tau0*(f_linear*sigma + (1.0_r8 - f_linear)*sigma**4)
        sw(k) = state%solin(i)*exp(-tau_sw*sigma**2)
      end do
      b = stebol*state%t(:, i)**4
      tr = exp(-(tau(2:nlev + 1) - tau(1:nlev)))
      dn(1) = 0.0_r8
      do k = 1, nlev
        dn(k + 1) = dn(k)*tr(k) + b(k)*(1.0_r8 - tr(k))
      end do
      up(nlev + 1) = stebol*state%sst(i)**4
      do k = nlev, 1, -1
        up(k) = up(k + 1)*tr(k) + b(k)*(1.0_r8 - tr(k))
      end do
      ! Layer heating from the convergence of the net downward flux.
      do k = 1, nlev
        t_tend(k, i) = gravit/(cpair*state%pdel(k, i))* &
                       ((sw(k) - sw(k + 1)) + (up(k + 1) - dn(k + 1)) - (up(k) - dn(k)))
      end do
      rad_col(i) = (sw(1) - sw(nlev + 1)) + (up(nlev + 1) - dn(nlev + 1)) - (up(1) - dn(1))

      sw_sfc = sw(nlev + 1)
      mu = max(state%coszrs(i), 0.01_r8)
      direct = sw_sfc*exp(-tau_scatter/mu)
      cam_out%netsw(i) = (1.0_r8 - albedo)*sw_sfc
      cam_out%flwds(i) = dn(nlev + 1)
      cam_out%sols(i) = visible_fraction*direct
      cam_out%soll(i) = (1.0_r8 - visible_fraction)*direct
      cam_out%solsd(i) = visible_fraction*(sw_sfc - direct)
      cam_out%solld(i) = (1.0_r8 - visible_fraction)*(sw_sfc - direct)
    end do
  end subroutine radiation_tend
end module radiation_gray
