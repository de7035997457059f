!> Scale-selective damping of the spectral core, applied implicitly to the new time level:
!!  * hyperdiffusion del^(2 order) of vorticity, divergence, temperature and humidity, with an
!!    e-folding time tau_N at the truncation limit (namelist key dyn_diffusion_time, 0.1 day by
!!    default):  X <- X/(1 + 2 dt k_n),  k_n = [n(n+1)/(N(N+1))]^order / tau_N  (the form of the
!!    GFDL spectral core's Held-Suarez configuration, del^8 with 0.1 day at n = N; see also
!!    Williamson 1978, Mon. Weather Rev. 106, 1605, on implicit spectral diffusion). The global
!!    mean (n = 0) is never damped.
!!  * a sponge above p_sponge = 10 hPa: Rayleigh damping of vorticity and divergence at the
!!    rate k_max (1 - p/p_sponge)^2 (k_max = 4/day) at the levels' reference pressure, which
!!    absorbs the waves that run up to the lid of the ClimSim levels (top interface 0.056 hPa)
!!    and would otherwise build up there (the adiabatic core's top winds pass 150 m/s in three
!!    days without it); the form of the sponge of Polvani and Kushner (2002, Geophys. Res.
!!    Lett. 29, 1114), deeper and stronger for a lid this high.
module dyn_damping
  use host_constants, only: r8, seconds_per_day
  implicit none (type, external)
  private
  public :: damping_init, damp

  integer, parameter :: diffusion_order = 4                         !< del^8
  real(r8), parameter :: p_sponge = 1000.0_r8                       !< sponge below this pressure [Pa]
  real(r8), parameter :: k_sponge_max = 4.0_r8/seconds_per_day      !< at p = 0 [s-1]

  type, public :: damping_t
    real(r8), allocatable :: k_diff(:)     !< (nspec) hyperdiffusion rate [s-1]
    real(r8), allocatable :: k_sponge(:)   !< (nlev) sponge rate [s-1]
  end type damping_t

contains

  !> n_of(nspec): degree of each coefficient; p_ref(nlev): level pressures at ps = 1000 hPa;
  !! tau_truncation: e-folding time of the hyperdiffusion at n = ntr [s].
  subroutine damping_init(dmp, n_of, ntr, p_ref, tau_truncation)
    type(damping_t), intent(out) :: dmp
    integer, intent(in) :: n_of(:), ntr
    real(r8), intent(in) :: p_ref(:), tau_truncation
    dmp%k_diff = (real(n_of*(n_of + 1), r8)/real(ntr*(ntr + 1), r8))**diffusion_order/tau_truncation
    dmp%k_sponge = k_sponge_max*max(0.0_r8, 1.0_r8 - p_ref/p_sponge)**2
  end subroutine damping_init

  !> x(nlev, nspec) over the half-span dt of the step (2 dt in all) for the coefficients idx;
  !! sponge = .true. for vorticity and divergence.
  subroutine damp(dmp, idx, dt, sponge, x)
    type(damping_t), intent(in) :: dmp
    integer, intent(in) :: idx(:)
    real(r8), intent(in) :: dt
    logical, intent(in) :: sponge
    complex(r8), intent(inout) :: x(:, :)
    integer :: ii, i
    do ii = 1, size(idx)
      i = idx(ii)
      if (sponge .and. size(x, 1) == size(dmp%k_sponge)) then
        x(:, i) = x(:, i)/((1.0_r8 + 2.0_r8*dt*dmp%k_diff(i))*(1.0_r8 + 2.0_r8*dt*dmp%k_sponge))
      else
        x(:, i) = x(:, i)/(1.0_r8 + 2.0_r8*dt*dmp%k_diff(i))
      end if
    end do
  end subroutine damp
end module dyn_damping
