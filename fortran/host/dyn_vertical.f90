!> The vertical discretization of the primitive equations in the hybrid coordinate eta,
!! p_{k+1/2} = A_{k+1/2} + B_{k+1/2} ps, in the energy- and angular-momentum-conserving form of
!! Simmons and Burridge (1981, Mon. Weather Rev. 109, 758-766; "S&B" below), as used by the
!! ECMWF and CAM Eulerian spectral models. Levels k = 1 (top) .. nlev, half levels 0 .. nlev.
!! Columns are (nlev, ncol) arrays, the physics layout.
!!
!! For each layer:  dp_k = p_{k+1/2} - p_{k-1/2},  lnr_k = ln(p_{k+1/2}/p_{k-1/2}),
!!   alpha_k = 1 - p_{k-1/2} lnr_k/dp_k  (S&B eq. 3.7), and alpha_1 = ln 2 where the model top
!!   p_{1/2} is zero (S&B's choice for that layer, used alike in Phi and the pressure gradient),
!!   the pressure-gradient term  R T_k (grad ln p)_k = R T_k c_k grad ln ps  with
!!   c_k = ps [B_{k-1/2} lnr_k + alpha_k dB_k]/dp_k  (S&B eq. 3.11; c_k = 1 in sigma coordinates),
!!   the geopotential  Phi_k = Phi_s + sum_{j>k} R T_j lnr_j + alpha_k R T_k  (S&B eq. 3.8).
module dyn_vertical
  use host_constants, only: r8, rair
  implicit none (type, external)
  private
  public :: vertical_init, vertical_init_sigma, layer_geometry, geopotential, vertical_advection, level_counts

  !> Level counts the core takes: the ClimSim 60 levels, or every 2nd .. 6th of their interfaces.
  integer, parameter :: level_counts(6) = [60, 30, 20, 15, 12, 10]

  type, public :: vertical_t
    integer :: nlev = 0
    real(r8), allocatable :: a_half(:), b_half(:)   !< (0:nlev) A [Pa] and B [1] at half levels
    real(r8), allocatable :: hyai(:), hybi(:), hyam(:), hybm(:)   !< ClimSim-style coefficients (P0 = 1e5 Pa)
  end type vertical_t

contains

  !> The levels from the ClimSim interfaces hyai, hybi (61 values, top first): every
  !! (60/nlev)-th interface; mid-levels halfway between, as E3SM defines hyam and hybm.
  !! ok = .false. when nlev is not one of level_counts.
  subroutine vertical_init(vert, hyai, hybi, p0, nlev, ok)
    type(vertical_t), intent(out) :: vert
    real(r8), intent(in) :: hyai(:), hybi(:), p0
    integer, intent(in) :: nlev
    logical, intent(out) :: ok
    integer :: stride, k
    ok = any(level_counts == nlev) .and. size(hyai) == 61
    if (.not. ok) return
    stride = (size(hyai) - 1)/nlev
    vert%nlev = nlev
    vert%hyai = [(hyai(1 + k*stride), k=0, nlev)]
    vert%hybi = [(hybi(1 + k*stride), k=0, nlev)]
    vert%hyam = 0.5_r8*(vert%hyai(1:nlev) + vert%hyai(2:nlev + 1))
    vert%hybm = 0.5_r8*(vert%hybi(1:nlev) + vert%hybi(2:nlev + 1))
    allocate (vert%a_half(0:nlev), vert%b_half(0:nlev))
    vert%a_half = vert%hyai*p0
    vert%b_half = vert%hybi
  end subroutine vertical_init

  !> nlev equally spaced sigma levels from sigma = 0 to 1 (A = 0, B = sigma): the levels of
  !! Held and Suarez (1994), whose benchmark climatology was computed on 20 of them.
  subroutine vertical_init_sigma(vert, nlev)
    type(vertical_t), intent(out) :: vert
    integer, intent(in) :: nlev
    integer :: k
    vert%nlev = nlev
    vert%hyai = [(0.0_r8, k=0, nlev)]
    vert%hybi = [(real(k, r8)/real(nlev, r8), k=0, nlev)]
    vert%hyam = 0.5_r8*(vert%hyai(1:nlev) + vert%hyai(2:nlev + 1))
    vert%hybm = 0.5_r8*(vert%hybi(1:nlev) + vert%hybi(2:nlev + 1))
    allocate (vert%a_half(0:nlev), vert%b_half(0:nlev))
    vert%a_half = 0.0_r8
    vert%b_half = vert%hybi
  end subroutine vertical_init_sigma

  !> Layer quantities of S&B for columns with surface pressure ps(ncol).
  subroutine layer_geometry(vert, ps, p_half, dp, lnr, alpha, c)
    type(vertical_t), intent(in) :: vert
    real(r8), intent(in) :: ps(:)
    real(r8), intent(out) :: p_half(0:, :), dp(:, :), lnr(:, :), alpha(:, :), c(:, :)
    integer :: i, k
    do i = 1, size(ps)
      do k = 0, vert%nlev
        p_half(k, i) = vert%a_half(k) + vert%b_half(k)*ps(i)
      end do
      do k = 1, vert%nlev
        dp(k, i) = p_half(k, i) - p_half(k - 1, i)
        if (p_half(k - 1, i) > 0.0_r8) then
          lnr(k, i) = log(p_half(k, i)/p_half(k - 1, i))
          alpha(k, i) = 1.0_r8 - p_half(k - 1, i)*lnr(k, i)/dp(k, i)
        else
          ! A top at p = 0: lnr_1 is infinite but only ever multiplies sums over the layers
          ! above layer 1 (none), so it is set to 0 to keep those products zero.
          lnr(k, i) = 0.0_r8
          alpha(k, i) = log(2.0_r8)
        end if
        c(k, i) = ps(i)*(vert%b_half(k - 1)*lnr(k, i) + alpha(k, i)*(vert%b_half(k) - vert%b_half(k - 1)))/dp(k, i)
      end do
    end do
  end subroutine layer_geometry

  !> Phi(nlev, ncol) above a flat surface (Phi_s = 0) [m2 s-2].
  subroutine geopotential(t, lnr, alpha, phi)
    real(r8), intent(in) :: t(:, :), lnr(:, :), alpha(:, :)
    real(r8), intent(out) :: phi(:, :)
    real(r8) :: below
    integer :: i, k
    do i = 1, size(t, 2)
      below = 0.0_r8
      do k = size(t, 1), 1, -1
        phi(k, i) = below + alpha(k, i)*rair*t(k, i)
        below = below + rair*t(k, i)*lnr(k, i)
      end do
    end do
  end subroutine geopotential

  !> (eta-dot dX/deta)_k = [M_{k+1/2} (X_{k+1} - X_k) + M_{k-1/2} (X_k - X_{k-1})]/(2 dp_k)
  !! with the mass flux M = eta-dot dp/deta at half levels (zero at top and bottom; S&B eq. 3.14).
  subroutine vertical_advection(x, mass_flux, dp, adv)
    real(r8), intent(in) :: x(:, :), mass_flux(0:, :), dp(:, :)
    real(r8), intent(out) :: adv(:, :)
    real(r8) :: across
    integer :: i, k, nlev
    nlev = size(x, 1)
    do i = 1, size(x, 2)
      adv(:, i) = 0.0_r8
      ! The term of half level k+1/2 enters the layers above and below it.
      do k = 1, nlev - 1
        across = mass_flux(k, i)*(x(k + 1, i) - x(k, i))
        adv(k, i) = adv(k, i) + across
        adv(k + 1, i) = adv(k + 1, i) + across
      end do
      adv(:, i) = adv(:, i)/(2.0_r8*dp(:, i))
    end do
  end subroutine vertical_advection
end module dyn_vertical
