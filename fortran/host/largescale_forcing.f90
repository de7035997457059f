!> Large-scale forcing in place of a dynamical core, applied to the state before the
!! physics (where the dynamics would act):
!!  1. Newtonian relaxation of T and q towards equilibrium profiles built from the ClimSim
!!     global-mean profiles (input_mean.nc), given a latitude and season dependence in the
!!     troposphere in the manner of Held and Suarez (1994, BAMS 75, 1825-1830):
!!       T_eq = T_mean(p) + w(sigma) [ dT_y (1/3 - sin^2 lat) + eps(t) sin lat ],
!!       w(sigma) = max(0, (sigma - 0.2)/0.8),  eps(t) = eps_max dec(t)/dec_max,
!!     (the area mean of 1/3 - sin^2 lat is zero, so T_eq keeps the ClimSim global mean);
!!       q_eq = q_mean(p) qsat(T_eq, p)/qsat(T_mean, p), capped at qsat(T_eq, p),
!!     i.e. the relative humidity of the mean profile is kept.
!!  2. Horizontal mixing: each column relaxes towards the mean of its nneighbour nearest
!!     columns (a diffusion on the ClimSim grid). Neighbours may live on other ranks, so the
!!     global T and q are gathered on every rank first; each column's update then uses
!!     global data in a fixed order and does not depend on the decomposition.
module largescale_forcing
  use host_calendar, only: model_date, declination
  use host_constants, only: r8, nlev, ncol_global, dtime, pi, seconds_per_day
  use host_grid, only: grid_t, nneighbour
  use host_saturation, only: qsat
  use mpi_f08, only: MPI_Comm, MPI_Allgatherv, MPI_DOUBLE_PRECISION
  use physics_types, only: physics_state
  implicit none (type, external)
  private
  public :: equilibrium_profiles, largescale_forcing_apply

  real(r8), parameter :: delta_t_y = 40.0_r8                 !< equator-pole contrast at the surface [K]
  real(r8), parameter :: eps_max = 10.0_r8                   !< seasonal hemispheric asymmetry [K]
  real(r8), parameter :: sigma_trop = 0.2_r8                !< above this the contrast vanishes
  real(r8), parameter :: tau_relax = 5.0_r8*seconds_per_day  !< relaxation time of T and q [s]
  real(r8), parameter :: tau_mix = 2.0_r8*seconds_per_day    !< neighbour mixing time [s]
  real(r8), parameter :: dec_max = 23.44_r8*pi/180.0_r8

contains

  !> Equilibrium profiles for the columns of state at date d.
  subroutine equilibrium_profiles(grid, state, d, t_eq, q_eq)
    type(grid_t), intent(in) :: grid
    type(physics_state), intent(in) :: state
    type(model_date), intent(in) :: d
    real(r8), intent(out) :: t_eq(:, :), q_eq(:, :)
    real(r8) :: eps, w, sinlat, sigma
    integer :: i, k
    eps = eps_max*declination(d)/dec_max
    do i = 1, state%ncol
      sinlat = sin(state%lat(i))
      do k = 1, nlev
        sigma = state%pmid(k, i)/state%ps(i)
        w = max(0.0_r8, (sigma - sigma_trop)/(1.0_r8 - sigma_trop))
        t_eq(k, i) = grid%t_mean(k) + w*(delta_t_y*(1.0_r8/3.0_r8 - sinlat**2) + eps*sinlat)
        q_eq(k, i) = min(grid%q_mean(k)*qsat(t_eq(k, i), state%pmid(k, i))/qsat(grid%t_mean(k), state%pmid(k, i)), &
                         qsat(t_eq(k, i), state%pmid(k, i)))
      end do
    end do
  end subroutine equilibrium_profiles

  !> Advance state%t and state%q over one step of large-scale forcing.
  subroutine largescale_forcing_apply(grid, state, d, comm)
    type(grid_t), intent(in) :: grid
    type(physics_state), intent(inout) :: state
    type(model_date), intent(in) :: d
    type(MPI_Comm), intent(in) :: comm
    real(r8), allocatable :: t_glob(:, :), q_glob(:, :)
    real(r8) :: t_eq(nlev, state%ncol), q_eq(nlev, state%ncol), t_nb(nlev), q_nb(nlev)
    integer :: i, n, gcol

    allocate (t_glob(nlev, ncol_global), q_glob(nlev, ncol_global))
    call MPI_Allgatherv(state%t, nlev*grid%ncol, MPI_DOUBLE_PRECISION, t_glob, nlev*grid%counts, &
                        nlev*grid%displs, MPI_DOUBLE_PRECISION, comm)
    call MPI_Allgatherv(state%q, nlev*grid%ncol, MPI_DOUBLE_PRECISION, q_glob, nlev*grid%counts, &
                        nlev*grid%displs, MPI_DOUBLE_PRECISION, comm)
    call equilibrium_profiles(grid, state, d, t_eq, q_eq)
    do i = 1, state%ncol
      gcol = grid%col_start + i - 1
      t_nb = 0.0_r8
      q_nb = 0.0_r8
      do n = 1, nneighbour
        t_nb = t_nb + t_glob(:, grid%neighbour(n, gcol))
        q_nb = q_nb + q_glob(:, grid%neighbour(n, gcol))
      end do
      t_nb = t_nb/nneighbour
      q_nb = q_nb/nneighbour
      state%t(:, i) = state%t(:, i) + dtime*((t_eq(:, i) - state%t(:, i))/tau_relax &
                                             + (t_nb - state%t(:, i))/tau_mix)
      state%q(:, i) = state%q(:, i) + dtime*((q_eq(:, i) - state%q(:, i))/tau_relax &
                                             + (q_nb - state%q(:, i))/tau_mix)
    end do
  end subroutine largescale_forcing_apply
end module largescale_forcing
