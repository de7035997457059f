!> The run configuration: namelist group &hybridge_nl, read and validated.
!! Every key has a default; an unknown key, a value of the wrong type or an
!! out-of-range value stops the run with a message that names the key.
module host_namelist
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite, ieee_is_nan
  use, intrinsic :: iso_fortran_env, only: int64, real64
  use host_calendar, only: model_date, parse_date
  implicit none (type, external)
  private
  public :: read_namelist, max_ml_variables, ml_output_names

  integer, parameter :: max_ml_variables = 16
  ! Lengths of the string keys. The namelist is read into buffers one character longer, so
  ! that a longer value is refused with the key named instead of being cut silently.
  integer, parameter :: path_len = 512, option_len = 16, device_len = 32, var_len = 32, case_len = 64, &
                        date_len = 16, engine_options_len = 512
  !> Largest ml_guard_margin the engine accepts (a fraction of the training range).
  real(real64), parameter :: max_guard_margin = 1000

  !> Outputs an emulator may own (ClimSim v1 target names).
  character(16), parameter :: ml_output_names(10) = [character(16) :: &
    'ptend_t', 'ptend_q0001', 'cam_out_NETSW', 'cam_out_FLWDS', 'cam_out_PRECSC', &
    'cam_out_PRECC', 'cam_out_SOLS', 'cam_out_SOLL', 'cam_out_SOLSD', 'cam_out_SOLLD']

  type, public :: host_config
    character(16) :: physics_mode = 'conventional'  !< conventional | ml | partial
    character(path_len) :: model_path = ''          !< model file with a hybridge manifest (TorchScript or .pt2)
    character(32) :: device = 'cpu'                 !< cpu | cuda | cuda:N | auto
    character(16) :: batching = 'rank'              !< rank | node
    logical :: ml_cuda_graphs = .false.             !< replay the emulator as a CUDA graph (GPU devices)
    character(32) :: ml_variables(max_ml_variables) = ''  !< outputs the emulator owns (partial mode)
    integer :: n_ml_variables = 0
    character(16) :: on_ml_error = 'abort'          !< abort | fallback
    character(16) :: nonfinite_policy = 'abort'     !< abort | fallback (non-finite emulator outputs)
    character(16) :: ml_guard = 'off'               !< off | fallback | clip: columns outside the training range
    real(real64) :: ml_guard_margin = 0.1_real64    !< allowed excess beyond the training range, fraction of it
    character(engine_options_len) :: ml_options = ''  !< more engine options, 'key=value;...' (docs/options.md)
    integer :: spinup_steps = 0                     !< conventional steps before the emulator takes over
    integer :: ramp_steps = 0                       !< steps over which ML output is blended in linearly
    integer :: num_threads = 1                      !< intra-op threads of the inference engine per rank
    integer :: ml_chunk = 64                        !< columns per engine call, last chunk padded (0: all at once);
                                                    !! a fixed chunk makes results independent of the decomposition
    character(16) :: stop_option = 'ndays'          !< nsteps | ndays
    integer(int64) :: stop_n = 1                    !< run length; 64-bit so no count can wrap
    type(model_date) :: start_date                  !< from 'YYYY-MM-DD'
    integer :: mli_interval_steps = 0               !< .mli/.mlo every N steps (0: none)
    integer :: history_interval_steps = 72          !< time-mean history every N steps (0: none)
    integer :: restart_interval_steps = 0           !< restart every N steps (0: only at the end)
    logical :: restart_at_end = .true.
    character(path_len) :: restart_file = ''        !< continue from this restart file
    character(path_len) :: output_dir = 'output'
    character(64) :: case_name = 'E3SM-MMF'         !< prefix of .mli/.mlo file names
    character(path_len) :: climsim_dir = ''         !< grid + normalization files
    integer :: log_interval_steps = 1
    ! The dynamics (checked against the core in dynamics.f90, which knows its limits).
    character(16) :: dynamics = 'none'              !< none (large-scale forcing) | spectral
    character(16) :: truncation = 'T21'             !< spectral truncation, 'T<N>'
    integer :: nlev = 60                            !< levels: 60 (ClimSim) or fewer (spectral only)
    character(16) :: vertical_levels = 'climsim'    !< climsim (hybrid, every (60/nlev)-th) | sigma (equally spaced)
    real(real64) :: dyn_timestep = 0                !< dynamics time step [s]; 0: as long as the CFL limit allows
    real(real64) :: dyn_diffusion_time = 8640       !< e-folding time of the del^8 hyperdiffusion at n = N [s]
    character(16) :: physics_package = 'moist'      !< moist (conventional physics) | held_suarez (dry forcing)
  end type host_config

contains

  !> Read &hybridge_nl from file.  On any problem ok = .false. and errmsg names it.
  subroutine read_namelist(filename, cfg, ok, errmsg)
    character(*), intent(in) :: filename
    type(host_config), intent(out) :: cfg
    logical, intent(out) :: ok
    character(:), allocatable, intent(out) :: errmsg

    character(option_len + 1) :: physics_mode, batching, on_ml_error, nonfinite_policy, stop_option, dynamics, &
                                 truncation, physics_package, ml_guard, vertical_levels
    character(engine_options_len + 1) :: ml_options
    character(device_len + 1) :: device
    character(var_len + 1) :: ml_variables(max_ml_variables)
    character(path_len + 1) :: model_path, restart_file, output_dir, climsim_dir
    character(case_len + 1) :: case_name
    character(date_len + 1) :: start_date
    integer :: spinup_steps, ramp_steps, num_threads, ml_chunk, mli_interval_steps, &
               history_interval_steps, restart_interval_steps, log_interval_steps, nlev
    real(real64) :: dyn_timestep, dyn_diffusion_time, ml_guard_margin
    integer(int64) :: stop_n
    logical :: restart_at_end, ml_cuda_graphs
    namelist /hybridge_nl/ physics_mode, model_path, device, batching, ml_cuda_graphs, ml_variables, on_ml_error, &
      nonfinite_policy, spinup_steps, ramp_steps, num_threads, ml_chunk, stop_option, stop_n, start_date, &
      mli_interval_steps, history_interval_steps, restart_interval_steps, restart_at_end, &
      restart_file, output_dir, case_name, climsim_dir, log_interval_steps, dynamics, truncation, nlev, &
      vertical_levels, dyn_timestep, dyn_diffusion_time, physics_package, ml_guard, ml_guard_margin, ml_options

    integer :: unit, ios, i, j, lineno
    character(512) :: iomsg, line
    character(600) :: probe
    logical :: in_group
    logical :: date_ok

    ok = .false.
    physics_mode = cfg%physics_mode
    model_path = cfg%model_path
    device = cfg%device
    batching = cfg%batching
    ml_cuda_graphs = cfg%ml_cuda_graphs
    ml_variables = cfg%ml_variables
    on_ml_error = cfg%on_ml_error
    nonfinite_policy = cfg%nonfinite_policy
    ml_guard = cfg%ml_guard
    ml_guard_margin = cfg%ml_guard_margin
    ml_options = cfg%ml_options
    spinup_steps = cfg%spinup_steps
    ramp_steps = cfg%ramp_steps
    num_threads = cfg%num_threads
    ml_chunk = cfg%ml_chunk
    stop_option = cfg%stop_option
    stop_n = cfg%stop_n
    start_date = '0001-02-01'
    mli_interval_steps = cfg%mli_interval_steps
    history_interval_steps = cfg%history_interval_steps
    restart_interval_steps = cfg%restart_interval_steps
    restart_at_end = cfg%restart_at_end
    restart_file = cfg%restart_file
    output_dir = cfg%output_dir
    case_name = cfg%case_name
    climsim_dir = cfg%climsim_dir
    log_interval_steps = cfg%log_interval_steps
    dynamics = cfg%dynamics
    truncation = cfg%truncation
    nlev = cfg%nlev
    vertical_levels = cfg%vertical_levels
    dyn_timestep = cfg%dyn_timestep
    dyn_diffusion_time = cfg%dyn_diffusion_time
    physics_package = cfg%physics_package

    open (newunit=unit, file=filename, status='old', action='read', iostat=ios, iomsg=iomsg)
    if (ios /= 0) then
      errmsg = "namelist file '"//trim(filename)//"' cannot be opened: "//trim(iomsg)
      return
    end if
    read (unit, nml=hybridge_nl, iostat=ios, iomsg=iomsg)
    if (ios /= 0) then
      ! The compiler's message rarely names the key, so find the first line of the group that
      ! does not read on its own and report it together with that line's message.
      rewind (unit)
      errmsg = "namelist file '"//trim(filename)//"': no &hybridge_nl group found"
      in_group = .false.
      lineno = 0
      do
        read (unit, '(a)', iostat=i) line
        if (i /= 0) exit
        lineno = lineno + 1
        if (.not. in_group) then
          in_group = index(adjustl(line), '&hybridge_nl') == 1
          if (.not. in_group) cycle
          ! If no single line fails, the compiler's message is the best there is.
          errmsg = "namelist file '"//trim(filename)//"', group &hybridge_nl: "//trim(iomsg)
          line = adjustl(line)
          line = line(len('&hybridge_nl') + 1:)
        end if
        if (adjustl(line) == '/') exit
        probe = '&hybridge_nl '//trim(line)//' /'
        read (probe, nml=hybridge_nl, iostat=i, iomsg=iomsg)
        if (i /= 0) then
          write (probe, '(i0)') lineno
          errmsg = "namelist file '"//trim(filename)//"', group &hybridge_nl, line "//trim(probe)// &
                   ": '"//trim(adjustl(line))//"': "//trim(iomsg)
          exit
        end if
      end do
      close (unit)
      return
    end if
    close (unit)

    ! No value longer than its key allows (it would otherwise be cut without a word).
    if (.not. fits('physics_mode', physics_mode, option_len)) return
    if (.not. fits('batching', batching, option_len)) return
    if (.not. fits('on_ml_error', on_ml_error, option_len)) return
    if (.not. fits('nonfinite_policy', nonfinite_policy, option_len)) return
    if (.not. fits('stop_option', stop_option, option_len)) return
    if (.not. fits('dynamics', dynamics, option_len)) return
    if (.not. fits('truncation', truncation, option_len)) return
    if (.not. fits('vertical_levels', vertical_levels, option_len)) return
    if (.not. fits('physics_package', physics_package, option_len)) return
    if (.not. fits('ml_guard', ml_guard, option_len)) return
    if (.not. fits('ml_options', ml_options, engine_options_len)) return
    if (.not. fits('device', device, device_len)) return
    if (.not. fits('model_path', model_path, path_len)) return
    if (.not. fits('restart_file', restart_file, path_len)) return
    if (.not. fits('output_dir', output_dir, path_len)) return
    if (.not. fits('climsim_dir', climsim_dir, path_len)) return
    if (.not. fits('case_name', case_name, case_len)) return
    if (.not. fits('start_date', start_date, date_len)) return
    do i = 1, max_ml_variables
      if (.not. fits('ml_variables', ml_variables(i), var_len)) return
    end do

    ! Enumerated values.
    if (.not. one_of('physics_mode', physics_mode, [character(16) :: 'conventional', 'ml', 'partial'])) return
    if (.not. one_of('batching', batching, [character(16) :: 'rank', 'node'])) return
    if (.not. one_of('on_ml_error', on_ml_error, [character(16) :: 'abort', 'fallback'])) return
    if (.not. one_of('nonfinite_policy', nonfinite_policy, [character(16) :: 'abort', 'fallback'])) return
    if (.not. one_of('stop_option', stop_option, [character(16) :: 'nsteps', 'ndays'])) return
    if (.not. one_of('dynamics', dynamics, [character(16) :: 'none', 'spectral'])) return
    if (.not. one_of('vertical_levels', vertical_levels, [character(16) :: 'climsim', 'sigma'])) return
    if (.not. one_of('physics_package', physics_package, [character(16) :: 'moist', 'held_suarez'])) return
    if (.not. one_of('ml_guard', ml_guard, [character(16) :: 'off', 'fallback', 'clip'])) return
    if (.not. ieee_is_finite(ml_guard_margin) .or. ml_guard_margin < 0 .or. ml_guard_margin > max_guard_margin) then
      write (probe, '(g0)') ml_guard_margin
      errmsg = 'namelist key ml_guard_margin = '//trim(probe)//': must be a number from 0 to 1000 '// &
               '(the allowed excess beyond the training range, as a fraction of that range)'
      return
    end if
    if (trim(physics_package) == 'held_suarez' .and. trim(dynamics) /= 'spectral') then
      errmsg = "namelist key physics_package = 'held_suarez': needs dynamics = 'spectral' (it forces winds)"
      return
    end if
    if (trim(physics_package) == 'held_suarez' .and. trim(physics_mode) /= 'conventional') then
      errmsg = "namelist key physics_package = 'held_suarez': the dry forcing has no emulator; "// &
               "physics_mode must be 'conventional'"
      return
    end if
    if (trim(dynamics) == 'none' .and. nlev /= 60) then
      write (probe, '(i0)') nlev
      errmsg = 'namelist key nlev = '//trim(probe)//": dynamics = 'none' runs on the ClimSim grid's 60 levels"
      return
    end if
    ! The moist physics, the ClimSim output and the emulators are defined on levels with a top
    ! above zero pressure (the physics take logarithms of interface pressures).
    if (trim(vertical_levels) == 'sigma' .and. trim(physics_package) /= 'held_suarez') then
      errmsg = "namelist key vertical_levels = 'sigma': only for physics_package = 'held_suarez' "// &
               '(the moist physics needs the ClimSim levels, whose top is above zero pressure)'
      return
    end if
    if (dyn_timestep < 0 .or. ieee_is_nan(dyn_timestep)) then
      write (probe, '(g0)') dyn_timestep
      errmsg = 'namelist key dyn_timestep = '//trim(probe)//' s: must be positive (or 0 for the longest stable step)'
      return
    end if
    if (.not. (dyn_diffusion_time > 0 .and. ieee_is_finite(dyn_diffusion_time))) then
      write (probe, '(g0)') dyn_diffusion_time
      errmsg = 'namelist key dyn_diffusion_time = '//trim(probe)//' s: must be positive and finite '// &
               '(the e-folding time of the hyperdiffusion at the truncation limit)'
      return
    end if
    if (.not. valid_device(device)) then
      errmsg = "namelist key device = '"//trim(device)//"': expected 'cpu', 'cuda', 'cuda:N' or 'auto'"
      return
    end if

    ! Integer ranges.
    if (stop_n < 1) then
      write (probe, '(i0)') stop_n
      errmsg = 'namelist key stop_n = '//trim(probe)//' < 1 (out of range)'
      return
    end if
    if (.not. at_least('spinup_steps', spinup_steps, 0)) return
    if (.not. at_least('ramp_steps', ramp_steps, 0)) return
    if (.not. at_least('num_threads', num_threads, 1)) return
    if (.not. at_least('ml_chunk', ml_chunk, 0)) return
    if (.not. at_least('mli_interval_steps', mli_interval_steps, 0)) return
    if (.not. at_least('history_interval_steps', history_interval_steps, 0)) return
    if (.not. at_least('restart_interval_steps', restart_interval_steps, 0)) return
    if (.not. at_least('log_interval_steps', log_interval_steps, 1)) return

    call parse_date(start_date, cfg%start_date, date_ok)
    if (.not. date_ok) then
      errmsg = "namelist key start_date = '"//trim(start_date)//"': expected a no-leap date 'YYYY-MM-DD'"
      return
    end if
    if (len_trim(case_name) == 0 .or. scan(trim(case_name), '/ ') > 0) then
      errmsg = "namelist key case_name = '"//trim(case_name)//"': must be non-empty, without '/' or blanks"
      return
    end if
    if (len_trim(output_dir) == 0) then
      errmsg = 'namelist key output_dir: must not be empty'
      return
    end if

    ! The emulator's variables.
    cfg%n_ml_variables = 0
    do i = 1, max_ml_variables
      if (len_trim(ml_variables(i)) == 0) cycle
      if (.not. any(ml_output_names == ml_variables(i))) then
        errmsg = "namelist key ml_variables: '"//trim(ml_variables(i))//"' is not an emulator output; expected one of "
        do j = 1, size(ml_output_names)
          errmsg = errmsg//trim(ml_output_names(j))//' '
        end do
        return
      end if
      if (any(cfg%ml_variables(1:cfg%n_ml_variables) == ml_variables(i))) then
        errmsg = "namelist key ml_variables: '"//trim(ml_variables(i))//"' listed twice"
        return
      end if
      cfg%n_ml_variables = cfg%n_ml_variables + 1
      cfg%ml_variables(cfg%n_ml_variables) = trim(ml_variables(i))
    end do
    select case (trim(physics_mode))
    case ('ml')
      if (cfg%n_ml_variables > 0) then
        errmsg = "namelist key ml_variables: set only for physics_mode = 'partial' (in 'ml' mode the emulator owns all outputs)"
        return
      end if
      cfg%n_ml_variables = size(ml_output_names)
      cfg%ml_variables(1:size(ml_output_names)) = ml_output_names
    case ('partial')
      if (cfg%n_ml_variables == 0) then
        errmsg = "namelist key ml_variables: physics_mode = 'partial' needs at least one variable"
        return
      end if
    case default
      if (cfg%n_ml_variables > 0) then
        errmsg = "namelist key ml_variables: set, but physics_mode = 'conventional' uses no emulator"
        return
      end if
    end select
    if (trim(physics_mode) == 'conventional' .and. trim(ml_guard) /= 'off') then
      errmsg = "namelist key ml_guard = '"//trim(ml_guard)//"': set, but physics_mode = 'conventional' uses no emulator"
      return
    end if
    if (trim(physics_mode) /= 'conventional' .and. len_trim(model_path) == 0) then
      errmsg = "namelist key model_path: required for physics_mode = '"//trim(physics_mode)//"'"
      return
    end if

    cfg%physics_mode = trim(physics_mode)
    cfg%model_path = trim(model_path)
    cfg%device = trim(device)
    cfg%batching = trim(batching)
    cfg%on_ml_error = trim(on_ml_error)
    cfg%nonfinite_policy = trim(nonfinite_policy)
    cfg%ml_guard = trim(ml_guard)
    cfg%ml_guard_margin = ml_guard_margin
    cfg%ml_options = trim(ml_options)
    cfg%ml_cuda_graphs = ml_cuda_graphs
    cfg%spinup_steps = spinup_steps
    cfg%ramp_steps = ramp_steps
    cfg%num_threads = num_threads
    cfg%ml_chunk = ml_chunk
    cfg%stop_option = trim(stop_option)
    cfg%stop_n = stop_n
    cfg%mli_interval_steps = mli_interval_steps
    cfg%history_interval_steps = history_interval_steps
    cfg%restart_interval_steps = restart_interval_steps
    cfg%restart_at_end = restart_at_end
    cfg%restart_file = trim(restart_file)
    cfg%output_dir = trim(output_dir)
    cfg%case_name = trim(case_name)
    cfg%climsim_dir = trim(climsim_dir)
    cfg%log_interval_steps = log_interval_steps
    cfg%dynamics = trim(dynamics)
    cfg%truncation = trim(truncation)
    cfg%nlev = nlev
    cfg%vertical_levels = trim(vertical_levels)
    cfg%dyn_timestep = dyn_timestep
    cfg%dyn_diffusion_time = dyn_diffusion_time
    cfg%physics_package = trim(physics_package)
    ok = .true.

  contains

    logical function valid_device(name)
      character(*), intent(in) :: name
      valid_device = name == 'cpu' .or. name == 'cuda' .or. name == 'auto'
      if (len_trim(name) > 5) valid_device = name(1:5) == 'cuda:' .and. verify(trim(name(6:)), '0123456789') == 0
    end function valid_device

    logical function one_of(key, value, allowed)
      character(*), intent(in) :: key, value, allowed(:)
      integer :: k
      one_of = any(allowed == value)
      if (.not. one_of) then
        errmsg = 'namelist key '//key//" = '"//trim(value)//"': expected one of"
        do k = 1, size(allowed)
          errmsg = errmsg//" '"//trim(allowed(k))//"'"
        end do
      end if
    end function one_of

    logical function fits(key, value, max_len)
      character(*), intent(in) :: key, value
      integer, intent(in) :: max_len
      character(24) :: buf
      fits = len_trim(value) <= max_len
      if (.not. fits) then
        write (buf, '(i0)') max_len
        errmsg = 'namelist key '//key//": value '"//value(1:min(40, len(value)))//"...' is longer than "// &
                 trim(buf)//' characters'
      end if
    end function fits

    logical function at_least(key, value, lower)
      character(*), intent(in) :: key
      integer, intent(in) :: value, lower
      character(24) :: buf
      at_least = value >= lower
      if (.not. at_least) then
        write (buf, '(i0," < ",i0)') value, lower
        errmsg = 'namelist key '//key//' = '//trim(buf)//' (out of range)'
      end if
    end function at_least
  end subroutine read_namelist
end module host_namelist
