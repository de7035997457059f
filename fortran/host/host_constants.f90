!> Physical constants and fixed model dimensions of hybridge-host.
!! Values are the ones ClimSim/E3SM use (shr_const), so that energy units in the
!! .mli/.mlo files mean the same as in the ClimSim data set.
module host_constants
  use, intrinsic :: iso_fortran_env, only: r8 => real64
  implicit none (type, external)
  private
  public :: r8, set_model_dimensions

  !> The grid's size, set once at start (set_model_dimensions) before anything is allocated:
  !! the ClimSim grid (ne4pg2, 384 columns, the E3SM 60-level hybrid grid) without dynamics,
  !! the Gaussian grid of the spectral core and its levels with it. Level 1 is the model top.
  integer, protected, public :: ncol_global = 384
  integer, protected, public :: nlev = 60
  real(r8), parameter, public :: dtime = 1200.0_r8   !< physics time step [s]

  real(r8), parameter, public :: pi = 3.14159265358979323846_r8
  real(r8), parameter, public :: gravit = 9.80616_r8      !< [m s-2]
  real(r8), parameter, public :: cpair = 1004.64_r8       !< dry-air heat capacity [J kg-1 K-1]
  real(r8), parameter, public :: latvap = 2.501e6_r8      !< latent heat of vaporization [J kg-1]
  real(r8), parameter, public :: latice = 3.337e5_r8      !< latent heat of fusion [J kg-1]
  real(r8), parameter, public :: rair = 287.0_r8           !< [J kg-1 K-1]
  real(r8), parameter, public :: rh2o = 461.0_r8           !< [J kg-1 K-1]
  real(r8), parameter, public :: epsilo = rair/rh2o       !< ratio of gas constants
  real(r8), parameter, public :: cappa = rair/cpair       !< kappa = R/cp
  real(r8), parameter, public :: stebol = 5.67e-8_r8      !< Stefan-Boltzmann [W m-2 K-4]
  real(r8), parameter, public :: tmelt = 273.15_r8        !< [K]
  real(r8), parameter, public :: rhoh2o = 1000.0_r8        !< liquid water density [kg m-3]
  real(r8), parameter, public :: rearth = 6.37122e6_r8    !< [m]
  real(r8), parameter, public :: solar_const = 1361.0_r8   !< total solar irradiance [W m-2] (Kopp & Lean 2011)
  real(r8), parameter, public :: seconds_per_day = 86400.0_r8
  real(r8), parameter, public :: days_per_year = 365.0_r8  !< E3SM no-leap calendar

  !> Stability guard: a state temperature outside this range stops the run [K].
  real(r8), parameter, public :: t_guard_min = 150.0_r8, t_guard_max = 350.0_r8

contains

  subroutine set_model_dimensions(ncol, levels)
    integer, intent(in) :: ncol, levels
    ncol_global = ncol
    nlev = levels
  end subroutine set_model_dimensions
end module host_constants
