!> The adiabatic, frictionless spectral core (no physics) for 3 days at T21 on the 60 ClimSim
!! levels: starting at rest from the Held-Suarez radiative-equilibrium temperature (far out of
!! balance, so the flow adjusts, gravity waves run up to the 0.056 hPa lid and the jets spin up),
!! the run stays stable (winds below 100 m/s, temperatures in [150, 350] K), global-mean
!! surface pressure (mass) stays within 5 Pa, and total energy sum((cp T + |v|^2/2) dp/g) is
!! not created and is lost no faster than 4 W/m2 (what hyperdiffusion, the time filter and the
!! sponge remove; S&B's discretization itself conserves it). Prints 'PASS' on rank 0.
program test_dyn_adiabatic
  use, intrinsic :: iso_fortran_env, only: error_unit, output_unit
  use dyn_spectral, only: dyn_spectral_t, dyn_spectral_init, dyn_spectral_set_state, dyn_spectral_run, &
    dyn_spectral_to_grid, dyn_spectral_global_mean
  use dyn_vertical, only: vertical_t, vertical_init
  use held_suarez, only: held_suarez_t_eq
  use host_build_info, only: default_climsim_dir
  use host_constants, only: r8, cpair, gravit
  use host_grid, only: read_climsim_levels
  use mpi_f08, only: MPI_Allreduce, MPI_Comm_rank, MPI_COMM_WORLD, MPI_DOUBLE_PRECISION, MPI_Finalize, MPI_Init, &
    MPI_MAX, MPI_MIN
  implicit none (type, external)

  integer, parameter :: nlev = 60, nsteps = 3*72
  real(r8), parameter :: dt = 1200.0_r8
  real(r8), parameter :: diffusion_time = 8640.0_r8   !< the host's default, 0.1 day at n = N [s]
  type(dyn_spectral_t) :: dyn
  type(vertical_t) :: vert
  real(r8), allocatable :: hyai(:), hybi(:), t(:, :), q(:, :), u(:, :), v(:, :), ps(:), col(:, :)
  real(r8) :: p0, means(2), mass0, energy0, wind, tmin, tmax, worst_wind, worst_tmin, worst_tmax, de
  character(:), allocatable :: errmsg
  logical :: ok, failed
  integer :: rank, i, k, step

  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  call read_climsim_levels(default_climsim_dir, hyai, hybi, p0)
  call vertical_init(vert, hyai, hybi, p0, nlev, ok)
  call dyn_spectral_init(dyn, 21, 32, 64, vert, dt, 1, diffusion_time, .false., MPI_COMM_WORLD, ok, errmsg)
  allocate (t(nlev, dyn%ncol), q(nlev, dyn%ncol), u(nlev, dyn%ncol), v(nlev, dyn%ncol), ps(dyn%ncol), &
            col(2, dyn%ncol))
  ps = 1.0e5_r8
  q = 0
  u = 0
  v = 0
  do i = 1, dyn%ncol
    t(:, i) = held_suarez_t_eq(asin(dyn%mu((i - 1)/dyn%nlon + 1)), vert%hyam*p0 + vert%hybm*ps(i)) + &
              0.1_r8*sin(real(i, r8))
  end do
  call dyn_spectral_set_state(dyn, t, q, u, v, ps)
  mass0 = 0
  energy0 = 0
  worst_wind = 0
  worst_tmin = 1.0e9_r8
  worst_tmax = 0
  failed = .false.
  do step = 0, nsteps
    if (step > 0) call dyn_spectral_run(dyn)
    call dyn_spectral_to_grid(dyn, t, q, u, v, ps)
    do i = 1, dyn%ncol
      col(1, i) = ps(i)
      col(2, i) = 0.0_r8
      do k = 1, nlev
        col(2, i) = col(2, i) + (cpair*t(k, i) + 0.5_r8*(u(k, i)**2 + v(k, i)**2))* &
                    ((vert%a_half(k) - vert%a_half(k - 1)) + (vert%b_half(k) - vert%b_half(k - 1))*ps(i))/gravit
      end do
    end do
    means = dyn_spectral_global_mean(dyn, col)
    if (step == 0) then
      mass0 = means(1)
      energy0 = means(2)
    end if
    call MPI_Allreduce(maxval(sqrt(u**2 + v**2)), wind, 1, MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD)
    call MPI_Allreduce(minval(t), tmin, 1, MPI_DOUBLE_PRECISION, MPI_MIN, MPI_COMM_WORLD)
    call MPI_Allreduce(maxval(t), tmax, 1, MPI_DOUBLE_PRECISION, MPI_MAX, MPI_COMM_WORLD)
    worst_wind = max(worst_wind, wind)
    worst_tmin = min(worst_tmin, tmin)
    worst_tmax = max(worst_tmax, tmax)
    call check(abs(means(1) - mass0) < 5.0_r8, 'mass (global-mean ps) within 5 Pa')
    if (failed) exit
  end do
  de = (means(2) - energy0)/(nsteps*dt)
  if (rank == 0) write (output_unit, '("after ",i0," steps: max wind ",f0.1," m/s, T in [",f0.1,", ",f0.1,"] K, ", &
                                     & "d(ps) ",es10.3," Pa, energy change ",f0.3," W/m2")') &
    nsteps, worst_wind, worst_tmin, worst_tmax, means(1) - mass0, de
  call check(worst_wind < 100.0_r8, 'winds below 100 m/s')
  call check(worst_tmin > 150.0_r8 .and. worst_tmax < 350.0_r8, 'temperatures in [150, 350] K')
  call check(de <= 0.1_r8 .and. de > -4.0_r8, 'energy not created, lost at less than 4 W/m2')
  if (rank == 0 .and. .not. failed) write (output_unit, '(a)') 'PASS'
  call MPI_Finalize()
  if (failed) error stop 1

contains

  subroutine check(cond, what)
    logical, intent(in) :: cond
    character(*), intent(in) :: what
    if (cond) return
    if (rank == 0) write (error_unit, '("test_dyn_adiabatic: FAILED at step ",i0,": ",a)') step, what
    failed = .true.
  end subroutine check
end program test_dyn_adiabatic
