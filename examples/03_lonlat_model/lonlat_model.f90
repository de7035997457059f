!> A lon-lat model's time loop with a namelist switch between its own physics and an emulator:
!>   lonlat_model lonlat.nml
!> &lonlat_nl physics_mode = 'conventional' | 'ml', model_path, ml_options (engine options,
!> e.g. 'record=calls;record_calls=1'), nsteps /
program lonlat_model
  use, intrinsic :: iso_fortran_env, only: real64, output_unit, error_unit
  use conventional_physics, only: conventional_tendencies
  use lonlat_state, only: nlon, nlat, nlev, state_t, init_state
  use ml_physics, only: ml_available, ml_init, ml_tendencies, ml_finalize
  implicit none (type, external)
  character(len=16) :: physics_mode = 'conventional'
  character(len=512) :: model_path = '', ml_options = ''
  integer :: nsteps = 3
  namelist /lonlat_nl/ physics_mode, model_path, ml_options, nsteps
  real(real64), parameter :: dt = 1800.0_real64   !< s
  type(state_t) :: s
  real(real64) :: dtdt(nlon, nlat, nlev), dqdt(nlon, nlat, nlev)
  character(len=2048) :: errmsg
  character(len=512) :: nml_file
  integer :: step, unit, ios
  logical :: ok

  call get_command_argument(1, nml_file)
  open (newunit=unit, file=trim(nml_file), status='old', action='read', iostat=ios)
  if (ios == 0) read (unit, nml=lonlat_nl, iostat=ios)
  if (ios /= 0) call stop_with('cannot read &lonlat_nl from ' // trim(nml_file))
  close (unit)
  if (physics_mode /= 'conventional' .and. physics_mode /= 'ml') then
    call stop_with("physics_mode = '" // trim(physics_mode) // "': expected 'conventional' or 'ml'")
  end if
  write (output_unit, '(a, i0, a, l1)') 'lonlat_model: ', nlon * nlat, ' columns, ML physics built in: ', ml_available

  call init_state(s)
  if (physics_mode == 'ml') then
    errmsg = ''
    call ml_init(trim(model_path), trim(ml_options), ok, errmsg)
    if (.not. ok) call stop_with(trim(errmsg))
  end if
  do step = 1, nsteps
    if (physics_mode == 'ml') then
      call ml_tendencies(s, dtdt, dqdt, ok, errmsg)
      if (.not. ok) call stop_with(trim(errmsg))
    else
      call conventional_tendencies(s, dtdt, dqdt)
    end if
    s%t = s%t + dt * dtdt
    s%q = max(0.0_real64, s%q + dt * dqdt)
    write (output_unit, '(a, i0, a, f12.6)') 'step ', step, ': global mean T ', sum(s%t) / size(s%t)
  end do
  if (physics_mode == 'ml') call ml_finalize()
  write (output_unit, '(a)') 'lonlat_model: done'

contains

  subroutine stop_with(message)
    character(*), intent(in) :: message
    write (error_unit, '(a)') 'lonlat_model: ' // message
    error stop 1
  end subroutine stop_with
end program lonlat_model
