!> Boundary-layer vertical diffusion of dry static energy s = cp T + g z and specific
!! humidity, with the surface fluxes as the lower boundary condition. K-profile decreasing
!! linearly from the surface to a fixed boundary-layer top (sigma = 0.85), in the spirit of
!! the boundary layer of Frierson et al. (2006, section 2c) with a fixed depth. Backward
!! Euler in time (tridiagonal solve), flux form, so column sums are conserved exactly up to
!! the surface flux, and the heights are held at their start-of-step values (as CAM does).
!! Momentum diffuses with the same K, its lower boundary the bulk surface stress
!! rho C |V| v_1 (surface_fluxes), taken implicitly in v_1: this boundary-layer drag gives
!! ptend_u and ptend_v.
module vertical_diffusion
  use host_constants, only: r8, nlev, gravit, cpair, rair, latvap, dtime
  use physics_types, only: physics_state
  use surface_fluxes, only: c_exchange, surface_wind_speed
  implicit none (type, external)
  private
  public :: vertical_diffusion_apply

  real(r8), parameter :: k_max = 30.0_r8        !< eddy diffusivity at the surface [m2/s]
  real(r8), parameter :: sigma_top = 0.85_r8   !< boundary-layer top in sigma = p/ps

contains

  !> Update t, q, u and v of column i in place over one step.
  subroutine vertical_diffusion_apply(state, i, t, q, u, v)
    type(physics_state), intent(in) :: state
    integer, intent(in) :: i
    real(r8), intent(inout) :: t(nlev), q(nlev), u(nlev), v(nlev)
    real(r8) :: zmid(nlev), zint(nlev + 1), s(nlev), coef(nlev + 1)
    real(r8) :: sigma, rho, k_int, drag
    integer :: k

    ! Heights from the hypsometric equation, surface at z = 0.
    zint(nlev + 1) = 0.0_r8
    do k = nlev, 1, -1
      zmid(k) = zint(k + 1) + rair*t(k)/gravit*log(state%pint(k + 1, i)/state%pmid(k, i))
      zint(k) = zint(k + 1) + rair*t(k)/gravit*log(state%pint(k + 1, i)/state%pint(k, i))
    end do

    ! coef(k): (rho g)^2 K / dp at the interface above layer k [Pa/s]; zero at both ends.
    coef = 0.0_r8
    do k = 2, nlev
      sigma = state%pint(k, i)/state%ps(i)
      k_int = k_max*max(0.0_r8, (sigma - sigma_top)/(1.0_r8 - sigma_top))
      rho = state%pint(k, i)/(rair*0.5_r8*(t(k - 1) + t(k)))
      coef(k) = (rho*gravit)**2*k_int/(state%pmid(k, i) - state%pmid(k - 1, i))
    end do

    s = cpair*t + gravit*zmid
    s(nlev) = s(nlev) + dtime*gravit*state%shflx(i)/state%pdel(nlev, i)
    q(nlev) = q(nlev) + dtime*gravit*state%lhflx(i)/latvap/state%pdel(nlev, i)
    call implicit_diffuse(s, coef, state%pdel(:, i))
    call implicit_diffuse(q, coef, state%pdel(:, i))
    t = (s - gravit*zmid)/cpair
    ! Surface stress rho C |V| v_1 on the lowest layer, as dt g rho C |V|/dp per unit v_1.
    rho = state%pmid(nlev, i)/(rair*state%t(nlev, i))
    drag = dtime*gravit*rho*c_exchange*surface_wind_speed(state, i)/state%pdel(nlev, i)
    call implicit_diffuse(u, coef, state%pdel(:, i), drag)
    call implicit_diffuse(v, coef, state%pdel(:, i), drag)
  end subroutine vertical_diffusion_apply

  !> Solve x_new - x = dt/pdel [coef(k+1)(x_new(k+1)-x_new(k)) - coef(k)(x_new(k)-x_new(k-1))]
  !! - drag x_new(nlev) (drag only for momentum).
  subroutine implicit_diffuse(x, coef, pdel, drag)
    real(r8), intent(inout) :: x(nlev)
    real(r8), intent(in) :: coef(nlev + 1), pdel(nlev)
    real(r8), intent(in), optional :: drag
    real(r8) :: a(nlev), b(nlev), c(nlev), cp(nlev), dp(nlev), den
    integer :: k
    do k = 1, nlev
      a(k) = -dtime*coef(k)/pdel(k)
      c(k) = -dtime*coef(k + 1)/pdel(k)
      b(k) = 1.0_r8 - a(k) - c(k)
    end do
    if (present(drag)) b(nlev) = b(nlev) + drag
    cp(1) = c(1)/b(1)
    dp(1) = x(1)/b(1)
    do k = 2, nlev
      den = b(k) - a(k)*cp(k - 1)
      cp(k) = c(k)/den
      dp(k) = (x(k) - a(k)*dp(k - 1))/den
    end do
    x(nlev) = dp(nlev)
    do k = nlev - 1, 1, -1
      x(k) = dp(k) - cp(k)*x(k + 1)
    end do
  end subroutine implicit_diffuse
end module vertical_diffusion
