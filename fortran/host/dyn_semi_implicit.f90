!> The semi-implicit leapfrog step of divergence, temperature and ln(ps) (Robert, Henderson
!! and Turnbull 1972, Mon. Weather Rev. 100, 329; Hoskins and Simmons 1975, Q. J. R. Meteorol.
!! Soc. 101, 637; for the hybrid coordinate Simmons and Burridge 1981, Mon. Weather Rev. 109, 758,
!! sec. 4). The gravity-wave terms, linearized about an isothermal state at rest (T_r = 350 K,
!! ps_r = 1000 hPa), are averaged over the two outer time levels, so the time step is limited by
!! advection, not by the fastest gravity wave. The scheme is stable only when the reference is
!! warmer than the model (Simmons, Hoskins and Burridge 1978, Mon. Weather Rev. 106, 405): with
!! the ClimSim levels' high lid, T_r = 300 K let a ln(ps)-divergence mode grow within two days of
!! the Held-Suarez spin-up (surface T up to 315 K); 350 K is ECMWF's choice:
!!   dD/dt   = ND + lambda_n (gamma T + g lnps)        (lambda_n = n(n+1)/a^2, i.e. -Laplacian)
!!   dT/dt   = NT - tau D
!!   dlnps/dt = NP - nu . D
!! where N is the full explicit tendency minus the linear terms at the middle level, gamma the
!! hydrostatic matrix (geopotential from temperature), tau the linearized energy-conversion
!! term, nu the linearized continuity equation and g_k = R T_r c_k, all from the S&B
!! discretization (dyn_vertical) at the reference pressures. With X^ = (X(n+1) + X(n-1))/2
!! and dt the half-span of the step:
!!   [I + dt^2 lambda_n (gamma tau + g nu^T)] D^ = D* + dt lambda_n (gamma T* + g P*)
!! with X* = X(n-1) + dt (dX/dt explicit - linear terms at level n); then T^ = T* - dt tau D^,
!! P^ = P* - dt nu . D^, and X(n+1) = 2 X^ - X(n-1). The matrices are inverted once per
!! degree n and half-span (the first, forward step has half the span of a leapfrog step).
module dyn_semi_implicit
  use dyn_vertical, only: vertical_t, layer_geometry
  use host_constants, only: r8, rair, cappa, rearth
  implicit none (type, external)
  private
  public :: semi_implicit_init, semi_implicit_solve

  real(r8), parameter :: t_ref = 350.0_r8      !< reference temperature [K]
  real(r8), parameter :: ps_ref = 1.0e5_r8     !< reference surface pressure [Pa]

  type, public :: semi_implicit_t
    integer :: nlev = 0, ntr = 0
    real(r8), allocatable :: gamma(:, :), tau(:, :), nu(:), g(:)
    real(r8) :: spans(2) = 0                    !< the half-spans the inverses are for [s]
    real(r8), allocatable :: inverse(:, :, :, :)  !< (nlev, nlev, 0:ntr, 2)
  end type semi_implicit_t

contains

  !> Matrices for the leapfrog half-span dt and the forward first step (dt/2).
  subroutine semi_implicit_init(si, vert, ntr, dt)
    type(semi_implicit_t), intent(out) :: si
    type(vertical_t), intent(in) :: vert
    integer, intent(in) :: ntr
    real(r8), intent(in) :: dt
    real(r8) :: p_half(0:vert%nlev, 1), dp(vert%nlev, 1), lnr(vert%nlev, 1), alpha(vert%nlev, 1), c(vert%nlev, 1)
    real(r8) :: m(vert%nlev, vert%nlev), lambda
    integer :: nlev, k, j, n, s
    nlev = vert%nlev
    si%nlev = nlev
    si%ntr = ntr
    call layer_geometry(vert, [ps_ref], p_half, dp, lnr, alpha, c)
    allocate (si%gamma(nlev, nlev), si%tau(nlev, nlev), si%nu(nlev), si%g(nlev), si%inverse(nlev, nlev, 0:ntr, 2))
    si%gamma = 0.0_r8
    si%tau = 0.0_r8
    do k = 1, nlev
      ! Phi_k = sum_{j>k} R lnr_j T_j + R alpha_k T_k
      si%gamma(k, k) = rair*alpha(k, 1)
      do j = k + 1, nlev
        si%gamma(k, j) = rair*lnr(j, 1)
      end do
      ! kappa T_r (omega/p)_k, linear part: -(kappa T_r/dp_k) [lnr_k sum_{j<k} dp_j D_j + alpha_k dp_k D_k]
      si%tau(k, k) = cappa*t_ref*alpha(k, 1)
      do j = 1, k - 1
        si%tau(k, j) = cappa*t_ref*lnr(k, 1)*dp(j, 1)/dp(k, 1)
      end do
      si%nu(k) = dp(k, 1)/ps_ref
      si%g(k) = rair*t_ref*c(k, 1)
    end do
    si%spans = [dt, 0.5_r8*dt]
    do s = 1, 2
      do n = 0, ntr
        lambda = real(n*(n + 1), r8)/rearth**2
        m = si%spans(s)**2*lambda*(matmul(si%gamma, si%tau) + spread(si%g, 2, nlev)*spread(si%nu, 1, nlev))
        do k = 1, nlev
          m(k, k) = m(k, k) + 1.0_r8
        end do
        call invert(m, si%inverse(:, :, n, s))
      end do
    end do
  end subroutine semi_implicit_init

  !> For the coefficients idx (degrees n_of(idx)): div, t, lnps at n+1 from their values at
  !! n-1 (old) and n (now) and their explicit tendencies; first = the forward first step.
  subroutine semi_implicit_solve(si, idx, n_of, first, div_old, t_old, lnps_old, div_now, t_now, lnps_now, &
                                 div_tend, t_tend, lnps_tend, div_new, t_new, lnps_new)
    type(semi_implicit_t), intent(in) :: si
    integer, intent(in) :: idx(:), n_of(:)
    logical, intent(in) :: first
    complex(r8), intent(in) :: div_old(:, :), t_old(:, :), lnps_old(:, :), div_now(:, :), t_now(:, :), lnps_now(:, :)
    complex(r8), intent(in) :: div_tend(:, :), t_tend(:, :), lnps_tend(:, :)
    complex(r8), intent(inout) :: div_new(:, :), t_new(:, :), lnps_new(:, :)
    complex(r8) :: ds(si%nlev), ts(si%nlev), ps_star, rhs(si%nlev), dbar(si%nlev)
    real(r8) :: dt, lambda
    integer :: ii, i, s
    s = merge(2, 1, first)
    dt = si%spans(s)
    do ii = 1, size(idx)
      i = idx(ii)
      lambda = real(n_of(i)*(n_of(i) + 1), r8)/rearth**2
      ds = div_old(:, i) + dt*(div_tend(:, i) - lambda*(matvec(si%gamma, t_now(:, i)) + si%g*lnps_now(1, i)))
      ts = t_old(:, i) + dt*(t_tend(:, i) + matvec(si%tau, div_now(:, i)))
      ps_star = lnps_old(1, i) + dt*(lnps_tend(1, i) + dot(si%nu, div_now(:, i)))
      rhs = ds + dt*lambda*(matvec(si%gamma, ts) + si%g*ps_star)
      dbar = matvec(si%inverse(:, :, n_of(i), s), rhs)
      div_new(:, i) = 2.0_r8*dbar - div_old(:, i)
      t_new(:, i) = 2.0_r8*(ts - dt*matvec(si%tau, dbar)) - t_old(:, i)
      lnps_new(1, i) = 2.0_r8*(ps_star - dt*dot(si%nu, dbar)) - lnps_old(1, i)
    end do
  end subroutine semi_implicit_solve

  !> a x for real a and complex x, summed over columns in order.
  pure function matvec(a, x) result(y)
    real(r8), intent(in) :: a(:, :)
    complex(r8), intent(in) :: x(:)
    complex(r8) :: y(size(a, 1))
    integer :: j
    y = (0.0_r8, 0.0_r8)
    do j = 1, size(a, 2)
      y = y + a(:, j)*x(j)
    end do
  end function matvec

  pure complex(r8) function dot(a, x)
    real(r8), intent(in) :: a(:)
    complex(r8), intent(in) :: x(:)
    integer :: j
    dot = (0.0_r8, 0.0_r8)
    do j = 1, size(a)
      dot = dot + a(j)*x(j)
    end do
  end function dot

  !> Gauss-Jordan inversion with partial pivoting (the matrices are small and well conditioned:
  !! the identity plus a positive multiple of gamma tau + g nu^T).
  subroutine invert(a, ainv)
    real(r8), intent(in) :: a(:, :)
    real(r8), intent(out) :: ainv(:, :)
    real(r8) :: w(size(a, 1), 2*size(a, 1)), row(2*size(a, 1))
    integer :: n, k, p
    n = size(a, 1)
    w = 0.0_r8
    w(:, 1:n) = a
    do k = 1, n
      w(k, n + k) = 1.0_r8
    end do
    do k = 1, n
      p = k - 1 + maxloc(abs(w(k:n, k)), 1)
      if (p /= k) then
        row = w(k, :)
        w(k, :) = w(p, :)
        w(p, :) = row
      end if
      w(k, :) = w(k, :)/w(k, k)
      do p = 1, n
        if (p /= k) w(p, :) = w(p, :) - w(p, k)*w(k, :)
      end do
    end do
    ainv = w(:, n + 1:2*n)
  end subroutine invert
end module dyn_semi_implicit
