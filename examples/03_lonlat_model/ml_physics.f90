!> ML physics for the lon-lat model through hybridge: the emulator's inputs are packed from
!> the model's (lon, lat, lev) fields by the variable names in the model's manifest, and its
!> outputs unpacked into tendencies the same way. Same interface as ml_physics_unavailable.f90.
module ml_physics
  use, intrinsic :: iso_fortran_env, only: real64
  use hybridge, only: hyb_model, hyb_load, hyb_free, hyb_run, hyb_bind_input, hyb_bind_output, hyb_pack, &
                      hyb_unpack, hyb_layout, hyb_tensor_info, HYB_INPUT, HYB_OUTPUT, HYB_OK
  use lonlat_state, only: nlon, nlat, nlev, state_t
  implicit none (type, external)
  private
  public :: ml_available, ml_init, ml_tendencies, ml_finalize

  logical, parameter :: ml_available = .true.
  integer, parameter :: ncol = nlon * nlat
  type(hyb_model) :: model
  character(:), allocatable :: x_name, y_name               !< the model's input and output tensors
  character(len=32), allocatable :: x_vars(:), y_vars(:)     !< their variables, by the manifest
  real(real64), allocatable, target :: x(:, :), y(:, :)      !< (nfeature, ncol)

contains

  !> Load the emulator and check that the model provides every variable it takes and uses
  !> every variable it returns.
  subroutine ml_init(model_path, options, ok, errmsg)
    character(*), intent(in) :: model_path, options
    logical, intent(out) :: ok
    character(*), intent(inout) :: errmsg
    integer :: stat, n
    integer, allocatable :: nx(:), ny(:), offsets(:), sizes(:)

    ok = .false.
    call hyb_load(model, model_path, options=options, stat=stat, errmsg=errmsg)
    if (stat /= HYB_OK) return
    call hyb_tensor_info(model, HYB_INPUT, 1, x_name, shape=nx, stat=stat, errmsg=errmsg)
    if (stat == HYB_OK) call hyb_tensor_info(model, HYB_OUTPUT, 1, y_name, shape=ny, stat=stat, errmsg=errmsg)
    if (stat == HYB_OK) call hyb_layout(model, HYB_INPUT, x_name, x_vars, offsets, sizes, stat=stat, errmsg=errmsg)
    if (stat == HYB_OK) call hyb_layout(model, HYB_OUTPUT, y_name, y_vars, offsets, sizes, stat=stat, errmsg=errmsg)
    if (stat /= HYB_OK) return
    do n = 1, size(x_vars)
      if (.not. any(trim(x_vars(n)) == [character(len=11) :: 'state_t', 'state_q0001', 'state_ps', 'pbuf_SOLIN'])) then
        errmsg = "the emulator takes '" // trim(x_vars(n)) // "', which this model does not provide"
        return
      end if
    end do
    do n = 1, size(y_vars)
      if (.not. any(trim(y_vars(n)) == [character(len=11) :: 'ptend_t', 'ptend_q0001'])) then
        errmsg = "the emulator returns '" // trim(y_vars(n)) // "', which this model does not use"
        return
      end if
    end do
    allocate (x(nx(1), ncol), y(ny(1), ncol))
    ok = .true.
  end subroutine ml_init

  !> Tendencies (lon, lat, lev) from the emulator: pack by name, run, unpack by name.
  subroutine ml_tendencies(s, dtdt, dqdt, ok, errmsg)
    type(state_t), intent(in) :: s
    real(real64), intent(out) :: dtdt(:, :, :), dqdt(:, :, :)
    logical, intent(out) :: ok
    character(*), intent(inout) :: errmsg
    real(real64) :: profile(ncol, nlev)
    integer :: n, stat

    ok = .false.
    dtdt = 0.0_real64
    dqdt = 0.0_real64
    stat = HYB_OK
    do n = 1, size(x_vars)
      select case (trim(x_vars(n)))
      case ('state_t')
        call hyb_pack(model, x_name, 'state_t', x, reshape(s%t, [ncol, nlev]), stat, errmsg)
      case ('state_q0001')
        call hyb_pack(model, x_name, 'state_q0001', x, reshape(s%q, [ncol, nlev]), stat, errmsg)
      case ('state_ps')
        call hyb_pack(model, x_name, 'state_ps', x, reshape(s%ps, [ncol]), stat, errmsg)
      case ('pbuf_SOLIN')
        call hyb_pack(model, x_name, 'pbuf_SOLIN', x, reshape(s%solin, [ncol]), stat, errmsg)
      case default
        continue  ! ml_init refused variables this model does not provide
      end select
      if (stat /= HYB_OK) return
    end do
    call hyb_bind_input(model, x_name, x, stat=stat, errmsg=errmsg)
    if (stat == HYB_OK) call hyb_bind_output(model, y_name, y, stat=stat, errmsg=errmsg)
    if (stat == HYB_OK) call hyb_run(model, stat=stat, errmsg=errmsg)
    if (stat /= HYB_OK) return
    do n = 1, size(y_vars)
      select case (trim(y_vars(n)))
      case ('ptend_t')
        call hyb_unpack(model, y_name, 'ptend_t', y, profile, stat, errmsg)
        dtdt = reshape(profile, [nlon, nlat, nlev])
      case ('ptend_q0001')
        call hyb_unpack(model, y_name, 'ptend_q0001', y, profile, stat, errmsg)
        dqdt = reshape(profile, [nlon, nlat, nlev])
      case default
        continue  ! ml_init refused outputs this model does not use
      end select
      if (stat /= HYB_OK) return
    end do
    ok = .true.
  end subroutine ml_tendencies

  subroutine ml_finalize()
    call hyb_free(model)
  end subroutine ml_finalize
end module ml_physics
