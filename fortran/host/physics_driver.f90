!> The physics driver: one physics_state in, one physics_ptend (and cam_out) out,
!! according to the namelist's physics_mode:
!!   conventional  the conventional package alone;
!!   ml            the emulator owns every output;
!!   partial       the emulator owns the outputs listed in ml_variables, the
!!                 conventional package the rest.
!! The conventional package runs in every mode: it provides the spin-up, the ramp, the
!! fallback columns, the reference radiation for the energy budget and the boundary-layer
!! drag (ptend_u, ptend_v), which ClimSim v1 emulators do not predict.
!! physics_package = 'held_suarez' replaces all of it by the dry Held-Suarez forcing.
module physics_driver
  use, intrinsic :: iso_fortran_env, only: int64
  use held_suarez, only: held_suarez_tend
  use host_abort, only: abort_run
  use host_constants, only: r8
  use host_namelist, only: host_config
  use physics_conventional, only: conventional_physics
  use physics_ml, only: ml_physics
  use physics_types, only: physics_state, physics_ptend, cam_out_t, physics_ptend_alloc, cam_out_alloc
  implicit none (type, external)
  private
  public :: physics_driver_init, physics_driver_run

  type(physics_ptend) :: ptend_conv, ptend_ml
  type(cam_out_t) :: cam_out_conv, cam_out_ml
  logical, allocatable :: col_ok(:)

contains

  subroutine physics_driver_init(ncol)
    integer, intent(in) :: ncol
    call physics_ptend_alloc(ptend_conv, ncol)
    call physics_ptend_alloc(ptend_ml, ncol)
    call cam_out_alloc(cam_out_conv, ncol)
    call cam_out_alloc(cam_out_ml, ncol)
    allocate (col_ok(ncol))
  end subroutine physics_driver_init

  !> nstep: steps since the initial start (carried by restarts), for spin-up and ramp.
  !! rad_col: column radiative heating of the conventional radiation [W/m2].
  !! n_fallback: columns of this rank that fell back to conventional physics this step.
  !! guarded: columns whose emulator inputs or outputs left the training range (ml_guard
  !! 'fallback': among the n_fallback; 'clip': clipped by the engine).
  subroutine physics_driver_run(cfg, nstep, col_start, state, ptend, cam_out, rad_col, n_fallback, guarded)
    type(host_config), intent(in) :: cfg
    integer(int64), intent(in) :: nstep
    integer, intent(in) :: col_start
    type(physics_state), intent(in) :: state
    type(physics_ptend), intent(inout) :: ptend
    type(cam_out_t), intent(inout) :: cam_out
    real(r8), intent(out) :: rad_col(:)
    integer, intent(out) :: n_fallback
    logical, intent(out) :: guarded(:)
    character(:), allocatable :: errmsg
    character(160) :: where
    logical :: call_ok
    real(r8) :: w
    integer :: i, v

    n_fallback = 0
    guarded = .false.
    if (cfg%physics_package == 'held_suarez') then
      call held_suarez_tend(state, ptend)
      call zero_cam_out(cam_out)
      rad_col = 0.0_r8
      return
    end if
    call conventional_physics(state, ptend_conv, cam_out_conv, rad_col)
    ptend%t = ptend_conv%t
    ptend%q = ptend_conv%q
    ptend%u = ptend_conv%u
    ptend%v = ptend_conv%v
    call copy_cam_out(cam_out_conv, cam_out)
    if (cfg%physics_mode == 'conventional' .or. nstep < cfg%spinup_steps) return

    call ml_physics(state, ptend_ml, cam_out_ml, col_ok, guarded, call_ok, errmsg)
    if (.not. call_ok) then
      if (cfg%on_ml_error == 'abort') call abort_run('emulator failed (on_ml_error = abort): '//errmsg)
      n_fallback = state%ncol
      return
    end if
    do i = 1, state%ncol
      if (col_ok(i)) cycle
      ! A column the guard handed back is the conventional physics' whatever the emulator returned.
      if (cfg%nonfinite_policy == 'abort' .and. .not. (guarded(i) .and. cfg%ml_guard == 'fallback')) then
        write (where, '("emulator returned non-finite outputs for global column ",i0, &
               & " (nonfinite_policy = abort)")') col_start + i - 1
        call abort_run(trim(where))
      end if
      n_fallback = n_fallback + 1
    end do

    ! Linear blend from conventional to emulator over ramp_steps after the spin-up.
    w = 1.0_r8
    if (cfg%ramp_steps > 0) w = min(1.0_r8, real(nstep - cfg%spinup_steps + 1, r8)/real(cfg%ramp_steps, r8))
    do v = 1, cfg%n_ml_variables
      select case (trim(cfg%ml_variables(v)))
      case ('ptend_t')
        call blend2(ptend%t, ptend_ml%t)
      case ('ptend_q0001')
        call blend2(ptend%q, ptend_ml%q)
      case ('cam_out_NETSW')
        call blend1(cam_out%netsw, cam_out_ml%netsw)
      case ('cam_out_FLWDS')
        call blend1(cam_out%flwds, cam_out_ml%flwds)
      case ('cam_out_PRECSC')
        call blend1(cam_out%precsc, cam_out_ml%precsc)
      case ('cam_out_PRECC')
        call blend1(cam_out%precc, cam_out_ml%precc)
      case ('cam_out_SOLS')
        call blend1(cam_out%sols, cam_out_ml%sols)
      case ('cam_out_SOLL')
        call blend1(cam_out%soll, cam_out_ml%soll)
      case ('cam_out_SOLSD')
        call blend1(cam_out%solsd, cam_out_ml%solsd)
      case ('cam_out_SOLLD')
        call blend1(cam_out%solld, cam_out_ml%solld)
      case default
        continue  ! ml_variables were checked against the emulator's outputs at init
      end select
    end do

  contains

    subroutine blend2(x, x_ml)
      real(r8), intent(inout) :: x(:, :)
      real(r8), intent(in) :: x_ml(:, :)
      integer :: j
      do j = 1, state%ncol
        if (col_ok(j)) x(:, j) = w*x_ml(:, j) + (1.0_r8 - w)*x(:, j)
      end do
    end subroutine blend2

    subroutine blend1(x, x_ml)
      real(r8), intent(inout) :: x(:)
      real(r8), intent(in) :: x_ml(:)
      where (col_ok) x = w*x_ml + (1.0_r8 - w)*x
    end subroutine blend1
  end subroutine physics_driver_run

  !> The dry forcing has no radiation or precipitation.
  subroutine zero_cam_out(dst)
    type(cam_out_t), intent(inout) :: dst
    dst%netsw = 0.0_r8
    dst%flwds = 0.0_r8
    dst%precsc = 0.0_r8
    dst%precc = 0.0_r8
    dst%sols = 0.0_r8
    dst%soll = 0.0_r8
    dst%solsd = 0.0_r8
    dst%solld = 0.0_r8
  end subroutine zero_cam_out

  subroutine copy_cam_out(src, dst)
    type(cam_out_t), intent(in) :: src
    type(cam_out_t), intent(inout) :: dst
    dst%netsw = src%netsw
    dst%flwds = src%flwds
    dst%precsc = src%precsc
    dst%precc = src%precc
    dst%sols = src%sols
    dst%soll = src%soll
    dst%solsd = src%solsd
    dst%solld = src%solld
  end subroutine copy_cam_out
end module physics_driver
