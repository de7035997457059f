!> The dynamics of hybridge-host and its coupling to the physics, chosen by the namelist
!! key dynamics:
!!   none      the ClimSim grid; the large-scale forcing (largescale_forcing.f90) stands in
!!             for the dynamics: relaxation and mixing of T and q, no wind, fixed ps.
!!   spectral  the spectral-transform primitive-equation core (dyn_spectral.f90) on the
!!             Gaussian grid of the chosen truncation, on the ClimSim levels or fewer.
!! As CAM's dp_coupling does for its cores: dynamics_run advances the dynamics over one
!! physics step and hands its state to the physics (physics_state), dynamics_after_physics
!! takes the physics' changes back. Every configuration error is found on every rank and
!! stops the run with a message naming the namelist key (stop_run).
module dynamics
  use, intrinsic :: iso_fortran_env, only: int64
  use dyn_gaussian_grid, only: truncation_grid, known_truncations
  use dyn_spectral, only: dyn_spectral_t, dyn_spectral_init, dyn_spectral_set_state, dyn_spectral_run, &
    dyn_spectral_to_grid, dyn_spectral_add_increments, dyn_spectral_allgather_old, dyn_spectral_global_mean
  use dyn_vertical, only: vertical_t, vertical_init, vertical_init_sigma
  use held_suarez, only: held_suarez_t_eq
  use host_abort, only: abort_run, stop_run
  use host_calendar, only: model_date
  use host_constants, only: r8, nlev, dtime, rearth, gravit, cpair, set_model_dimensions
  use host_grid, only: grid_t, grid_init, grid_init_gaussian, read_climsim_levels
  use host_namelist, only: host_config
  use host_ncfile, only: out_file, out_att, out_array
  use host_netcdf, only: nc_check, nc_open_read
  use largescale_forcing, only: equilibrium_profiles, largescale_forcing_apply
  use mpi_f08, only: MPI_Allreduce, MPI_Comm, MPI_Comm_rank, MPI_Comm_size, MPI_DOUBLE_PRECISION, MPI_INTEGER, &
    MPI_MAX, MPI_SUM
  use netcdf, only: nf90_close, nf90_get_att, nf90_get_var, nf90_global, nf90_inq_varid, nf90_inquire_dimension, &
    nf90_inquire_variable, nf90_noerr
  use physics_types, only: physics_state, set_pressure
  use surface_fluxes, only: set_gustiness
  implicit none (type, external)
  private
  public :: dynamics_init, dynamics_initial_state, dynamics_run, dynamics_after_physics, dynamics_restart_write, &
            dynamics_restart_matches, dynamics_restart_read, dynamics_diagnostics, dynamics_describe

  integer, parameter :: climsim_ncol = 384, climsim_nlev = 60
  !> Wind speed the CFL limit of the spectral core is set for [m/s]: the time step must keep
  !! u dt sqrt(N(N+1))/a below 1 for the fastest winds (jets and the polar night in the sponge).
  real(r8), parameter :: u_max_cfl = 100.0_r8
  real(r8), parameter :: perturbation = 0.1_r8    !< initial temperature noise amplitude [K]
  integer, parameter :: max_sigma_levels = 200

  !> What the log prints about the dynamics every log interval (global, valid on all ranks).
  type, public :: dyn_diagnostics_t
    real(r8) :: ps_mean = 0       !< global-mean surface pressure [Pa]
    real(r8) :: de_dyn = 0        !< change of total energy sum((cp T + |v|^2/2) dp/g) by the dynamics [W/m2]
    real(r8) :: u_max = 0         !< largest wind speed [m/s]
    integer :: n_filled = 0       !< humidity points the dynamics left negative, filled from the column
  end type dyn_diagnostics_t

  character(16) :: kind = 'none'
  character(16) :: truncation = 'none'
  character(16) :: vertical_levels = 'climsim'
  real(r8) :: diffusion_time = 0   !< e-folding time of the hyperdiffusion at n = N [s]
  type(dyn_spectral_t) :: core
  !> The state the dynamics handed to the physics (before the humidity fill), on this rank's columns.
  real(r8), allocatable :: t_dyn(:, :), q_dyn(:, :), u_dyn(:, :), v_dyn(:, :)
  real(r8) :: energy_after_physics = 0
  type(dyn_diagnostics_t) :: diag

contains

  !> Collective. Set the model's dimensions and grid for cfg%dynamics; refuse what the core
  !! cannot take, naming the key.
  subroutine dynamics_init(cfg, climsim_dir, comm, grid)
    type(host_config), intent(in) :: cfg
    character(*), intent(in) :: climsim_dir
    type(MPI_Comm), intent(in) :: comm
    type(grid_t), intent(out) :: grid
    type(vertical_t) :: vert
    real(r8), allocatable :: hyai(:), hybi(:)
    real(r8) :: p0, limit, dt
    character(:), allocatable :: errmsg
    character(256) :: msg
    integer :: rank, nranks, ntr, nlat, nlon, nsub
    logical :: ok

    call MPI_Comm_rank(comm, rank)
    call MPI_Comm_size(comm, nranks)
    kind = cfg%dynamics
    if (kind == 'none') then
      call set_model_dimensions(climsim_ncol, climsim_nlev)
      if (nranks > climsim_ncol) then
        write (msg, '("cannot run on ",i0," ranks: the grid has ",i0," columns")') nranks, climsim_ncol
        call stop_run(trim(msg))
      end if
      call grid_init(grid, climsim_dir, rank, nranks)
      call set_gustiness(5.0_r8)
      return
    end if

    truncation = cfg%truncation
    call truncation_grid(cfg%truncation, ntr, nlat, nlon, ok)
    if (.not. ok) call stop_run("namelist key truncation = '"//trim(cfg%truncation)// &
                                "': not a truncation of the spectral core; expected one of "//known_truncations())
    vertical_levels = cfg%vertical_levels
    if (vertical_levels == 'sigma') then
      if (cfg%nlev < 2 .or. cfg%nlev > max_sigma_levels) then
        write (msg, '("namelist key nlev = ",i0,": vertical_levels = ''sigma'' takes 2 to ",i0," levels")') &
          cfg%nlev, max_sigma_levels
        call stop_run(trim(msg))
      end if
      call vertical_init_sigma(vert, cfg%nlev)
      ok = .true.
    else
      call read_climsim_levels(climsim_dir, hyai, hybi, p0)
      call vertical_init(vert, hyai, hybi, p0, cfg%nlev, ok)
    end if
    if (.not. ok) then
      write (msg, '("namelist key nlev = ",i0,": the spectral core takes 60 (the ClimSim levels) or 30, 20, 15, ", &
            & "12, 10 (every 2nd to 6th ClimSim interface)")') cfg%nlev
      call stop_run(trim(msg))
    end if
    ! Advective CFL limit of the leapfrog spectral model: u dt sqrt(N(N+1))/a <= 1.
    limit = rearth/(u_max_cfl*sqrt(real(ntr*(ntr + 1), r8)))
    if (cfg%dyn_timestep > 0) then
      nsub = max(1, nint(dtime/cfg%dyn_timestep))
      if (cfg%dyn_timestep > limit) then
        write (msg, '(" (a/(u_max sqrt(N(N+1))) with u_max = ",i0," m/s)")') nint(u_max_cfl)
        call stop_run('namelist key dyn_timestep = '//seconds(cfg%dyn_timestep)//': beyond the CFL limit of '// &
                      seconds(real(floor(limit), r8))//' for '//trim(truncation)//trim(msg))
      else if (abs(nsub*cfg%dyn_timestep - dtime) > 1.0e-9_r8*dtime) then
        call stop_run('namelist key dyn_timestep = '//seconds(cfg%dyn_timestep)// &
                      ': must divide the physics time step of '//seconds(dtime))
      end if
    else
      nsub = ceiling(dtime/limit)
    end if
    dt = dtime/nsub
    diffusion_time = cfg%dyn_diffusion_time
    call dyn_spectral_init(core, ntr, nlat, nlon, vert, dt, nsub, diffusion_time, &
                           cfg%physics_package /= 'held_suarez', comm, ok, errmsg)
    if (.not. ok) call stop_run(errmsg)
    call set_model_dimensions(nlat*nlon, cfg%nlev)
    call grid_init_gaussian(grid, climsim_dir, rank, nranks, core%tr%leg%mu, core%tr%leg%w, nlon, vert)
    if (grid%col_start /= (core%tr%lat_first - 1)*nlon + 1 .or. grid%ncol /= core%ncol) then
      call stop_run('internal: the grid and the spectral transform split the rows differently')
    end if
    call set_gustiness(1.0_r8)
    allocate (t_dyn(nlev, grid%ncol), q_dyn(nlev, grid%ncol), u_dyn(nlev, grid%ncol), v_dyn(nlev, grid%ncol))
  end subroutine dynamics_init

  !> One line for the log's header.
  function dynamics_describe() result(text)
    character(:), allocatable :: text
    character(200) :: buf
    if (kind == 'none') then
      text = 'dynamics none (large-scale forcing), ClimSim grid 384 columns, 60 levels'
    else
      write (buf, '("dynamics spectral ",a,", Gaussian grid ",i0," x ",i0,", ",i0," ",a," levels, time step ")') &
        trim(truncation), core%tr%nlat, core%tr%nlon, nlev, trim(vertical_levels)
      write (buf(len_trim(buf) + 2:), '(a," (",i0," per physics step), hyperdiffusion ",a," at n = N")') &
        seconds(core%dt), core%nsub, seconds(diffusion_time)
      text = trim(buf)
    end if
  end function dynamics_describe

  !> Collective. The initial state: at rest, ps = grid%ps0, temperature (and humidity) of the
  !! equilibrium profiles of the large-scale forcing (moist) or the Held-Suarez T_eq (dry), and
  !! with the spectral core a deterministic 0.1 K noise that breaks the zonal symmetry.
  subroutine dynamics_initial_state(cfg, grid, state, d)
    type(host_config), intent(in) :: cfg
    type(grid_t), intent(in) :: grid
    type(physics_state), intent(inout) :: state
    type(model_date), intent(in) :: d
    integer :: i
    state%ps = grid%ps0(grid%col_start:grid%col_start + grid%ncol - 1)
    call set_pressure(state, grid%hyam, grid%hybm, grid%hyai, grid%hybi, grid%p0)
    if (cfg%physics_package == 'held_suarez') then
      do i = 1, state%ncol
        state%t(:, i) = held_suarez_t_eq(state%lat(i), state%pmid(:, i))
      end do
      state%q = 0.0_r8
    else
      call equilibrium_profiles(grid, state, d, state%t, state%q)
    end if
    if (kind == 'none') return
    state%u = 0.0_r8
    state%v = 0.0_r8
    do i = 1, state%ncol
      state%t(:, i) = state%t(:, i) + perturbation*noise(grid%col_start + i - 1)
    end do
    call dyn_spectral_set_state(core, state%t, state%q, state%u, state%v, state%ps)
  end subroutine dynamics_initial_state

  !> Collective: the dynamics of one physics step, then its state into the physics_state.
  subroutine dynamics_run(grid, state, d, comm)
    type(grid_t), intent(in) :: grid
    type(physics_state), intent(inout) :: state
    type(model_date), intent(in) :: d
    type(MPI_Comm), intent(in) :: comm
    real(r8) :: colvals(2, state%ncol), means(2), umax
    integer :: i, n_filled
    if (kind == 'none') then
      call largescale_forcing_apply(grid, state, d, comm)
      return
    end if
    call dyn_spectral_run(core)
    call dyn_spectral_to_grid(core, t_dyn, q_dyn, u_dyn, v_dyn, state%ps)
    call set_pressure(state, grid%hyam, grid%hybm, grid%hyai, grid%hybi, grid%p0)
    state%t = t_dyn
    state%q = q_dyn
    state%u = u_dyn
    state%v = v_dyn
    call fill_negative_humidity(state, n_filled)
    call MPI_Allreduce(n_filled, diag%n_filled, 1, MPI_INTEGER, MPI_SUM, comm)
    do i = 1, state%ncol
      colvals(1, i) = state%ps(i)
      colvals(2, i) = column_energy(state, i)
    end do
    means = dyn_spectral_global_mean(core, colvals)
    diag%ps_mean = means(1)
    diag%de_dyn = (means(2) - energy_after_physics)/dtime
    umax = maxval(sqrt(state%u**2 + state%v**2))
    call MPI_Allreduce(umax, diag%u_max, 1, MPI_DOUBLE_PRECISION, MPI_MAX, comm)
  end subroutine dynamics_run

  !> Collective: the physics' changes of T, q, u and v (state after physics minus what the
  !! dynamics handed over, the humidity fill included) into the spectral state.
  subroutine dynamics_after_physics(state)
    type(physics_state), intent(in) :: state
    real(r8) :: colvals(1, state%ncol), means(1)
    integer :: i
    if (kind == 'none') return
    call dyn_spectral_add_increments(core, state%t - t_dyn, state%q - q_dyn, state%u - u_dyn, state%v - v_dyn)
    do i = 1, state%ncol
      colvals(1, i) = column_energy(state, i)
    end do
    means = dyn_spectral_global_mean(core, colvals)
    energy_after_physics = means(1)
  end subroutine dynamics_after_physics

  function dynamics_diagnostics() result(d)
    type(dyn_diagnostics_t) :: d
    d = diag
  end function dynamics_diagnostics

  !> Collective. The dynamics' part of a restart file: what it is (attributes 'dynamics',
  !! 'truncation', 'nlev') and, for the spectral core, both time levels of every spectral field
  !! (complex numbers as pairs: dimensions ri, lev, spec, tlev with tlev 1 = previous, 2 = current).
  subroutine dynamics_restart_write(f)
    type(out_file), intent(inout) :: f
    integer :: nspec
    call out_att(f, 'dynamics', trim(kind))
    call out_att(f, 'truncation', trim(truncation))
    call out_att(f, 'nlev', nlev)
    call out_att(f, 'vertical_levels', trim(vertical_levels))
    if (kind == 'none') return
    call dyn_spectral_allgather_old(core)
    nspec = core%tr%nspec
    call out_array(f, 'dyn_vor', '1/s', [character(4) :: 'ri', 'lev', 'spec', 'tlev'], [2, nlev, nspec, 2], &
                   transfer(core%vor, [0.0_r8], 2*size(core%vor)))
    call out_array(f, 'dyn_div', '1/s', [character(4) :: 'ri', 'lev', 'spec', 'tlev'], [2, nlev, nspec, 2], &
                   transfer(core%div, [0.0_r8], 2*size(core%div)))
    call out_array(f, 'dyn_t', 'K', [character(4) :: 'ri', 'lev', 'spec', 'tlev'], [2, nlev, nspec, 2], &
                   transfer(core%t, [0.0_r8], 2*size(core%t)))
    call out_array(f, 'dyn_q', 'kg/kg', [character(4) :: 'ri', 'lev', 'spec', 'tlev'], [2, nlev, nspec, 2], &
                   transfer(core%q, [0.0_r8], 2*size(core%q)))
    call out_array(f, 'dyn_lnps', '1', [character(4) :: 'ri', 'spec', 'tlev'], [2, nspec, 2], &
                   transfer(core%lnps, [0.0_r8], 2*size(core%lnps)))
    call out_array(f, 'dyn_energy_after_physics', 'J/m2', [character(4) :: 'one'], [1], [energy_after_physics])
  end subroutine dynamics_restart_write

  !> Collective (every rank reads the attributes): errmsg = '' when the restart file was
  !! written with this run's dynamics, truncation and levels, else what differs.
  subroutine dynamics_restart_matches(path, errmsg)
    character(*), intent(in) :: path
    character(:), allocatable, intent(out) :: errmsg
    character(64) :: file_dyn, file_trunc, file_levels
    character(256) :: msg
    integer :: ncid, file_nlev
    errmsg = ''
    ncid = nc_open_read(path)
    file_dyn = ''
    file_trunc = ''
    file_nlev = -1
    if (nf90_get_att(ncid, nf90_global, 'dynamics', file_dyn) /= nf90_noerr) file_dyn = '(none recorded)'
    if (nf90_get_att(ncid, nf90_global, 'truncation', file_trunc) /= nf90_noerr) file_trunc = '(none recorded)'
    if (nf90_get_att(ncid, nf90_global, 'nlev', file_nlev) /= nf90_noerr) file_nlev = -1
    file_levels = ''
    ! Restart files from before the key was added were all on the ClimSim levels.
    if (nf90_get_att(ncid, nf90_global, 'vertical_levels', file_levels) /= nf90_noerr) file_levels = 'climsim'
    call nc_check(nf90_close(ncid), path, 'close')
    if (trim(file_dyn) /= trim(kind)) then
      errmsg = "restart file '"//path//"' was written with dynamics = '"//trim(file_dyn)// &
               "'; this run has dynamics = '"//trim(kind)//"' (namelist key dynamics)"
    else if (trim(file_trunc) /= trim(truncation)) then
      errmsg = "restart file '"//path//"' was written with truncation = '"//trim(file_trunc)// &
               "'; this run has truncation = '"//trim(truncation)//"' (namelist key truncation)"
    else if (file_nlev /= nlev) then
      write (msg, '("restart file ''",a,"'' has ",i0," levels; this run has nlev = ",i0," (namelist key nlev)")') &
        path, file_nlev, nlev
      errmsg = trim(msg)
    else if (kind /= 'none' .and. trim(file_levels) /= trim(vertical_levels)) then
      errmsg = "restart file '"//path//"' was written with vertical_levels = '"//trim(file_levels)// &
               "'; this run has vertical_levels = '"//trim(vertical_levels)//"' (namelist key vertical_levels)"
    end if
  end subroutine dynamics_restart_matches

  !> Every rank reads the spectral state (the file has passed dynamics_restart_matches).
  subroutine dynamics_restart_read(path)
    character(*), intent(in) :: path
    integer :: ncid
    if (kind == 'none') return
    ncid = nc_open_read(path)
    call read_spectral(ncid, 'dyn_vor', core%vor)
    call read_spectral(ncid, 'dyn_div', core%div)
    call read_spectral(ncid, 'dyn_t', core%t)
    call read_spectral(ncid, 'dyn_q', core%q)
    call read_spectral(ncid, 'dyn_lnps', core%lnps)
    call read_scalar(ncid, 'dyn_energy_after_physics', energy_after_physics)
    call nc_check(nf90_close(ncid), path, 'close')
    core%first = .false.

  contains

    subroutine read_spectral(id, name, x)
      integer, intent(in) :: id
      character(*), intent(in) :: name
      complex(r8), intent(inout) :: x(:, :, :)
      real(r8) :: buf(2*size(x))
      integer :: varid, ndims, dimids(4), dlen(4), k
      character(160) :: msg
      call nc_check(nf90_inq_varid(id, name, varid), path, "variable '"//name//"'")
      call nc_check(nf90_inquire_variable(id, varid, ndims=ndims, dimids=dimids), path, name)
      dlen = 1
      do k = 1, min(ndims, 4)
        call nc_check(nf90_inquire_dimension(id, dimids(k), len=dlen(k)), path, name)
      end do
      if (ndims > 4 .or. product(dlen) /= size(buf)) then
        write (msg, '("holds ",i0," values, this run has ",i0)') product(dlen), size(buf)
        call abort_run("restart file '"//path//"': variable '"//name//"' "//trim(msg))
      end if
      call nc_check(nf90_get_var(id, varid, buf, start=[(1, k=1, ndims)], count=dlen(1:ndims)), path, &
                    "reading '"//name//"'")
      x = reshape(transfer(buf, [(0.0_r8, 0.0_r8)], size(x)), shape(x))
    end subroutine read_spectral

    subroutine read_scalar(id, name, value)
      integer, intent(in) :: id
      character(*), intent(in) :: name
      real(r8), intent(out) :: value
      real(r8) :: buf(1)
      integer :: varid
      call nc_check(nf90_inq_varid(id, name, varid), path, "variable '"//name//"'")
      call nc_check(nf90_get_var(id, varid, buf), path, "reading '"//name//"'")
      value = buf(1)
    end subroutine read_scalar
  end subroutine dynamics_restart_read

  !> A duration for messages: '1200 s', '612.5 s'.
  function seconds(value) result(text)
    real(r8), intent(in) :: value
    character(:), allocatable :: text
    character(32) :: buf
    if (abs(value) < 1.0e9_r8) then
      if (abs(value - real(nint(value), r8)) > 1.0e-9_r8*max(1.0_r8, abs(value))) then
        write (buf, '(g0.6," s")') value
        text = trim(buf)
        return
      end if
      write (buf, '(i0," s")') nint(value)
    else
      write (buf, '(g0.6," s")') value
    end if
    text = trim(buf)
  end function seconds

  !> Dry static plus kinetic energy of column i, sum((cp T + (u^2 + v^2)/2) dp/g) [J/m2]: what
  !! the adiabatic dynamics conserves over a flat surface (Simmons and Burridge 1981, sec. 2).
  real(r8) function column_energy(state, i)
    type(physics_state), intent(in) :: state
    integer, intent(in) :: i
    column_energy = sum((cpair*state%t(:, i) + 0.5_r8*(state%u(:, i)**2 + state%v(:, i)**2))*state%pdel(:, i))/gravit
  end function column_energy

  !> Spectral advection leaves small negative humidities where q has sharp edges. Refill them
  !! from the rest of the column: negative values are set to zero and the positive ones scaled
  !! down by the same amount of water, so column water is kept; a column with no water to spare
  !! is set to zero. n: points filled on this rank.
  subroutine fill_negative_humidity(state, n)
    type(physics_state), intent(inout) :: state
    integer, intent(out) :: n
    real(r8) :: negative, positive
    integer :: i
    n = 0
    do i = 1, state%ncol
      if (all(state%q(:, i) >= 0.0_r8)) cycle
      n = n + count(state%q(:, i) < 0.0_r8)
      negative = -sum(state%q(:, i)*state%pdel(:, i), mask=state%q(:, i) < 0.0_r8)
      positive = sum(state%q(:, i)*state%pdel(:, i), mask=state%q(:, i) > 0.0_r8)
      where (state%q(:, i) < 0.0_r8) state%q(:, i) = 0.0_r8
      if (positive > negative) then
        state%q(:, i) = state%q(:, i)*((positive - negative)/positive)
      else
        state%q(:, i) = 0.0_r8
      end if
    end do
  end subroutine fill_negative_humidity

  !> A deterministic value in [-1, 1] for global column c (a linear congruential sequence,
  !! Knuth, TAOCP vol. 2, 3.2.1), the same on every decomposition.
  pure real(r8) function noise(c)
    integer, intent(in) :: c
    integer(int64) :: x
    integer :: k
    x = int(c, int64)
    do k = 1, 3
      x = modulo(1103515245_int64*x + 12345_int64, 2147483648_int64)
    end do
    noise = 2.0_r8*real(x, r8)/2147483648.0_r8 - 1.0_r8
  end function noise
end module dynamics
