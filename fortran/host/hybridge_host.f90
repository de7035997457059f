!> hybridge-host: an idealized moist atmosphere on the ClimSim grid, or on the Gaussian
!! grid of its spectral dynamical core.
!!   mpirun -n N hybridge-host namelist_file
!! Each step: dynamics (the spectral core, or the large-scale forcing in its place) ->
!! boundary data (insolation, SST, surface fluxes) -> [.mli] -> physics driver ->
!! physics_update -> stability guard -> [.mlo] -> physics increments to the dynamics ->
!! budgets, log, history, restart.
program hybridge_host
  use, intrinsic :: iso_fortran_env, only: output_unit, int64
  use boundary_data, only: set_insolation, set_sst
  use dynamics, only: dyn_diagnostics_t, dynamics_init, dynamics_initial_state, dynamics_run, &
    dynamics_after_physics, dynamics_restart_matches, dynamics_diagnostics, dynamics_describe
  use host_abort, only: stop_run
  use host_build_info, only: default_climsim_dir
  use host_calendar, only: model_date, date_from_seconds, seconds_from_date, date_tag, last_second
  use host_climsim_io, only: write_mli, write_mlo, write_grid_file
  use host_constants, only: r8, nlev, dtime
  use host_diagnostics, only: budget_t, global_budgets, stability_guard
  use host_files, only: keep_heap, make_dirs, locate_climsim_dir, remove_stale_temporaries
  use host_grid, only: grid_t
  use host_history, only: history_t, history_init, history_accumulate, history_write
  use host_namelist, only: host_config, read_namelist
  use host_restart, only: restart_write, restart_read
  use host_restart_check, only: restart_verify
  use mpi_f08, only: MPI_Bcast, MPI_Comm, MPI_Comm_rank, MPI_Comm_size, MPI_COMM_WORLD, MPI_Finalize, &
    MPI_Init, MPI_INTEGER, MPI_INTEGER8, MPI_Reduce, MPI_SUM, MPI_Wtime
  use physics_driver, only: physics_driver_init, physics_driver_run
  use physics_ml, only: ml_init, ml_state_size, ml_get_state, ml_set_state, ml_finalize
  use physics_types, only: physics_state, physics_ptend, cam_out_t, physics_state_alloc, &
                           physics_ptend_alloc, cam_out_alloc, set_pressure, physics_update
  use surface_fluxes, only: set_surface_fluxes
  implicit none (type, external)

  type(MPI_Comm) :: comm
  integer :: rank, nranks, nqneg, n_fallback, sums(3), sums_glob(3)
  integer(int64) :: nstep, n, nsteps_run, n_fallback_total
  logical :: root, ok, restart_written, winds
  character(:), allocatable :: errmsg, nml_file, climsim_dir
  character(1024) :: arg
  integer :: arglen, arg_status
  type(host_config) :: cfg
  type(grid_t) :: grid
  type(physics_state) :: state
  type(physics_ptend) :: ptend
  type(cam_out_t) :: cam_out
  type(history_t) :: hist
  type(budget_t) :: budget
  type(dyn_diagnostics_t) :: dyn_diag
  type(model_date) :: start_date, d, d_end
  real(r8), allocatable :: t_before(:, :), q_before(:, :), rad_col(:), ml_state(:, :)
  logical, allocatable :: guarded(:)
  real(r8) :: wall_start, wall_log, wall_now
  integer :: steps_since_log

  call MPI_Init()
  call keep_heap()
  comm = MPI_COMM_WORLD
  call MPI_Comm_rank(comm, rank)
  call MPI_Comm_size(comm, nranks)
  root = rank == 0

  ! The namelist path at its full length, however long: a cut path would name another file.
  call get_command_argument(1, length=arglen, status=arg_status)
  if (arglen == 0 .or. arg_status > 0) call fail('usage: mpirun -n N hybridge-host namelist_file')
  allocate (character(arglen) :: nml_file)
  call get_command_argument(1, nml_file)
  call read_namelist(nml_file, cfg, ok, errmsg)
  if (.not. ok) call fail(errmsg)

  climsim_dir = locate_climsim_dir(cfg%climsim_dir, default_climsim_dir)
  call dynamics_init(cfg, climsim_dir, comm, grid)
  winds = cfg%dynamics /= 'none'

  call physics_state_alloc(state, grid%ncol)
  call physics_ptend_alloc(ptend, grid%ncol)
  call cam_out_alloc(cam_out, grid%ncol)
  call history_init(hist, grid%ncol, winds)
  call physics_driver_init(grid%ncol)
  allocate (t_before(nlev, grid%ncol), q_before(nlev, grid%ncol), rad_col(grid%ncol), guarded(grid%ncol))
  state%lat = grid%lat(grid%col_start:grid%col_start + grid%ncol - 1)
  state%lon = grid%lon(grid%col_start:grid%col_start + grid%ncol - 1)
  if (cfg%physics_mode /= 'conventional') call ml_init(cfg, grid%ncol, comm)

  if (len_trim(cfg%restart_file) > 0) then
    call restart_verify(trim(cfg%restart_file), comm, ok, errmsg)
    if (.not. ok) call fail(errmsg)
    call dynamics_restart_matches(trim(cfg%restart_file), errmsg)
    if (len(errmsg) > 0) call fail(errmsg)
    call restart_read(trim(cfg%restart_file), grid, state, nstep, start_date, hist, n_fallback_total, ml_state)
    call set_pressure(state, grid%hyam, grid%hybm, grid%hyai, grid%hybi, grid%p0)
    ! A restart without emulator state (e.g. from a conventional spin-up) starts the
    ! emulator from its initial state; one with state must match the model.
    if (size(ml_state, 1) > 0 .and. size(ml_state, 1) /= ml_state_size()) then
      write (arg, '("restart file ''",a,"'' holds ",i0," emulator state values per column, the model needs ",i0)') &
        trim(cfg%restart_file), size(ml_state, 1), ml_state_size()
      call fail(trim(arg))
    end if
    if (size(ml_state, 1) > 0) call ml_set_state(ml_state)
    deallocate (ml_state)
  else
    nstep = 0
    n_fallback_total = 0
    start_date = cfg%start_date
    call dynamics_initial_state(cfg, grid, state, start_date)
  end if
  call set_run_length()
  if (root) then
    call make_dirs(trim(cfg%output_dir))
    call remove_stale_temporaries(trim(cfg%output_dir), trim(cfg%case_name))
  end if
  call write_grid_file(cfg%output_dir, cfg%case_name, grid, comm, root, dynamics_describe())
  if (root) then
    write (output_unit, '("hybridge-host: ",i0," ranks, physics_mode = ",a,", ",i0," steps from ",a, &
          & ", ClimSim files in ",a)') nranks, trim(cfg%physics_mode), nsteps_run, &
          date_tag(model_time(nstep)), climsim_dir
    write (output_unit, '("hybridge-host: ",a)') dynamics_describe()
    write (output_unit, '(a)') '   step date              T_mean[K]  dE_phys  E_sources  E_resid[W/m2]'// &
      '   dW_phys     W_sources   W_resid[kg/m2/s] precip[mm/d] fallback qneg steps/s guarded'
  end if

  wall_start = MPI_Wtime()
  wall_log = wall_start
  steps_since_log = 0
  restart_written = .false.
  do n = 1, nsteps_run
    d = model_time(nstep)
    call dynamics_run(grid, state, d, comm)
    call set_insolation(date_from_seconds(seconds_from_date(d) + int(dtime/2, int64)), &
                        state%lat, state%lon, state%coszrs, state%solin)
    call set_sst(d, state%lat, state%sst)
    call set_surface_fluxes(state)
    if (output_due(cfg%mli_interval_steps, nstep)) then
      call write_mli(cfg%output_dir, cfg%case_name, d, grid, comm, root, state, winds)
    end if

    t_before = state%t
    q_before = state%q
    call physics_driver_run(cfg, nstep, grid%col_start, state, ptend, cam_out, rad_col, n_fallback, guarded)
    call physics_update(state, ptend, nqneg)
    call stability_guard(grid, rank, state, t_before, q_before, d, cfg%output_dir)
    if (output_due(cfg%mli_interval_steps, nstep)) then
      call write_mlo(cfg%output_dir, cfg%case_name, d, grid, comm, root, state, cam_out, winds)
    end if
    call dynamics_after_physics(state)

    nstep = nstep + 1
    d_end = model_time(nstep)
    steps_since_log = steps_since_log + 1
    sums = [n_fallback, nqneg, count(guarded)]
    call MPI_Reduce(sums, sums_glob, 3, MPI_INTEGER, MPI_SUM, 0, comm)
    if (root) n_fallback_total = n_fallback_total + sums_glob(1)
    call MPI_Bcast(n_fallback_total, 1, MPI_INTEGER8, 0, comm)
    if (mod(nstep, int(cfg%log_interval_steps, int64)) == 0) then
      budget = global_budgets(grid, comm, root, state, t_before, q_before, cam_out, rad_col)
      wall_now = MPI_Wtime()
      ! The step in 7 columns as long as it fits, so that the table stays aligned.
      ! guarded: the step's columns outside the emulator's training range (ml_guard), last
      ! so that readers of the older columns find them where they were.
      if (root) write (output_unit, '(a,1x,a,f10.4,3es11.3,1x,3es12.3,f10.4,2i7,f10.2,i8)') step_text(nstep), &
        date_tag(d_end), budget%t_mean, budget%de_phys, budget%e_sources, budget%de_phys - budget%e_sources, &
        budget%dw_phys, budget%w_sources, budget%dw_phys - budget%w_sources, budget%precip, &
        sums_glob(1), sums_glob(2), steps_since_log/max(wall_now - wall_log, 1.0e-9_r8), sums_glob(3)
      if (winds .and. root) then
        dyn_diag = dynamics_diagnostics()
        write (output_unit, '("    dyn ",a," ps_mean[Pa] ",f11.3," dE_dyn[W/m2] ",es11.3," max|v|[m/s] ",f8.2, &
              & " q_filled ",i0)') step_text(nstep), dyn_diag%ps_mean, dyn_diag%de_dyn, dyn_diag%u_max, dyn_diag%n_filled
      end if
      wall_log = wall_now
      steps_since_log = 0
    end if

    call history_accumulate(hist, state, ptend, cam_out, guarded)
    if (output_due(cfg%history_interval_steps, nstep)) then
      call history_write(hist, grid, comm, trim(cfg%output_dir)//'/'//trim(cfg%case_name)//'.h0.'// &
                         date_tag(d_end)//'.nc', root)
    end if
    restart_written = output_due(cfg%restart_interval_steps, nstep)
    if (restart_written) call write_restart()
  end do
  if (cfg%restart_at_end .and. .not. restart_written) call write_restart()

  wall_now = MPI_Wtime()
  if (root) write (output_unit, '("hybridge-host: done, ",i0," steps in ",f0.3," s (",f0.2," steps/s), ", &
                              & i0," emulator fallback columns in total")') &
    nsteps_run, wall_now - wall_start, nsteps_run/max(wall_now - wall_start, 1.0e-9_r8), n_fallback_total
  if (cfg%physics_mode /= 'conventional') call ml_finalize()
  call MPI_Finalize()

contains

  type(model_date) function model_time(step)
    integer(int64), intent(in) :: step
    model_time = date_from_seconds(seconds_from_date(start_date) + step*int(dtime, int64))
  end function model_time

  function step_text(step) result(text)
    integer(int64), intent(in) :: step
    character(:), allocatable :: text
    character(20) :: buf
    write (buf, '(i0)') step
    text = repeat(' ', max(0, 7 - len_trim(buf)))//trim(buf)
  end function step_text

  logical function output_due(interval, step)
    integer, intent(in) :: interval
    integer(int64), intent(in) :: step
    output_due = interval > 0
    if (output_due) output_due = mod(step, int(interval, int64)) == 0
  end function output_due

  !> nsteps_run from stop_option and stop_n, refused when the run would end after the last
  !! date the calendar can name (counted in 64 bits, so no count wraps on the way).
  subroutine set_run_length()
    integer(int64) :: steps_per_day, steps_left
    steps_per_day = int(86400.0_r8/dtime, int64)
    steps_left = (last_second() - seconds_from_date(start_date))/int(dtime, int64) - nstep
    nsteps_run = cfg%stop_n
    if (cfg%stop_option == 'ndays') then
      nsteps_run = huge(nsteps_run)
      if (cfg%stop_n <= huge(nsteps_run)/steps_per_day) nsteps_run = cfg%stop_n*steps_per_day
    end if
    if (nsteps_run > steps_left) then
      write (arg, '("namelist key stop_n = ",i0," (stop_option = ''",a,"''): the run would end after ", &
            & "9999-12-31, the last date hybridge-host can name (",i0," steps are left from ",a,")")') &
        cfg%stop_n, trim(cfg%stop_option), steps_left, date_tag(model_time(nstep))
      call fail(trim(arg))
    end if
  end subroutine set_run_length

  subroutine write_restart()
    allocate (ml_state(ml_state_size(), grid%ncol))
    if (ml_state_size() > 0) call ml_get_state(ml_state)
    call restart_write(trim(cfg%output_dir)//'/'//trim(cfg%case_name)//'.r.'//date_tag(d_end)//'.nc', &
                       grid, comm, root, state, nstep, start_date, hist, n_fallback_total, ml_state)
    deallocate (ml_state)
  end subroutine write_restart

  !> A configuration error: every rank found it, rank 0 reports it, all stop.
  subroutine fail(msg)
    character(*), intent(in) :: msg
    call stop_run(msg)
  end subroutine fail
end program hybridge_host
