!> The emulator coupling through the hybridge Fortran API (docs/fortran_api.md).
!! At init the model's manifest says which tensors it takes and returns and, through each
!! tensor's variable layout, which ClimSim variables sit where; the host fills inputs and
!! reads outputs by those names, so any model whose variables the host knows can be
!! coupled (ClimSim v1: x = state_t state_q0001 state_ps pbuf_SOLIN pbuf_LHFLX pbuf_SHFLX,
!! y = ptend_t ptend_q0001 cam_out_*). All of the rank's columns go to the engine in one
!! run per step; recurrent state stays in the engine and is copied out for restarts.
module physics_ml
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  use, intrinsic :: iso_fortran_env, only: int64
  use host_abort, only: abort_run
  use host_constants, only: r8, nlev
  use host_namelist, only: host_config
  use hybridge, only: hyb_bind_input, hyb_bind_output, hyb_count, hyb_free, hyb_get_state, hyb_guard_columns, &
    HYB_INPUT, hyb_layout, hyb_load, hyb_model, HYB_OK, HYB_OUTPUT, hyb_run, hyb_set_state, HYB_STATE, &
    hyb_tensor_info
  use mpi_f08, only: MPI_Comm
  use physics_types, only: physics_state, physics_ptend, cam_out_t
  implicit none (type, external)
  private
  public :: ml_init, ml_physics, ml_state_size, ml_get_state, ml_set_state, ml_finalize

  !> One model tensor: host buffer x(nfeature, ncol) and its variable layout.
  type :: ml_tensor
    character(:), allocatable :: name
    real(r8), allocatable :: x(:, :)
    character(32), allocatable :: var(:)
    integer, allocatable :: offset(:), size(:)   !< 0-based offsets, as in the manifest
  end type ml_tensor

  !> One recurrent state tensor: per-column shape in PyTorch order.
  type :: ml_state
    character(:), allocatable :: name
    integer, allocatable :: shape(:)
  end type ml_state

  type(hyb_model) :: model
  type(ml_tensor), allocatable, target :: inputs(:), outputs(:)
  type(ml_state), allocatable :: states(:)
  character(:), allocatable :: model_path
  !> ml_guard: off | fallback | clip, and the guard's report of the last run per column
  !! (first value out of the widened training range, 0-based; -1 within it).
  character(:), allocatable :: guard
  integer(int64), allocatable :: first_input(:), first_output(:)

contains

  subroutine ml_init(cfg, ncol, comm)
    type(host_config), intent(in) :: cfg
    integer, intent(in) :: ncol
    type(MPI_Comm), intent(in) :: comm
    character(1024) :: msg
    character(160) :: buf
    character(:), allocatable :: options
    integer :: ierr, n, v
    logical :: found

    model_path = trim(cfg%model_path)
    guard = trim(cfg%ml_guard)
    write (buf, '("threads=",i0,";batching=",a,";chunk=",i0,";nonfinite=pass")') &
      cfg%num_threads, trim(cfg%batching), cfg%ml_chunk
    options = trim(buf)
    if (cfg%ml_cuda_graphs) options = options//';cuda_graphs=on'
    if (guard /= 'off') then
      ! g0 writes the margin with every digit, so the engine's guard is the namelist's.
      write (buf, '(";guard=",a,";guard_margin=",g0)') guard, cfg%ml_guard_margin
      options = options//trim(buf)
    end if
    ! The user's engine options come last: where they repeat a key, theirs is the one in force.
    if (len_trim(cfg%ml_options) > 0) options = options//';'//trim(cfg%ml_options)
    msg = ''
    call hyb_load(model, model_path, device=trim(cfg%device), options=options, &
                  comm=comm%mpi_val, stat=ierr, errmsg=msg)
    if (ierr /= HYB_OK) call abort_run("cannot load emulator '"//model_path//"' (engine options '"//options// &
                                       "'): "//trim(msg))
    allocate (first_input(ncol), first_output(ncol))

    allocate (inputs(hyb_count(model, HYB_INPUT)), outputs(hyb_count(model, HYB_OUTPUT)), &
              states(hyb_count(model, HYB_STATE)))
    do n = 1, size(inputs)
      call describe_tensor(HYB_INPUT, n, ncol, inputs(n))
    end do
    do n = 1, size(outputs)
      call describe_tensor(HYB_OUTPUT, n, ncol, outputs(n))
    end do
    do n = 1, size(states)
      call hyb_tensor_info(model, HYB_STATE, n, states(n)%name, shape=states(n)%shape)
      if (size(states(n)%shape) > 3) call abort_run("emulator '"//model_path//"': state '"// &
                                                      states(n)%name//"' has more than 3 per-column dimensions")
    end do

    ! Every variable the emulator is to own must be one of its outputs.
    do v = 1, cfg%n_ml_variables
      found = .false.
      do n = 1, size(outputs)
        found = found .or. any(outputs(n)%var == cfg%ml_variables(v))
      end do
      if (.not. found) call abort_run("ml_variables: '"//trim(cfg%ml_variables(v))// &
                                      "' is not an output of emulator '"//model_path//"'")
    end do
  end subroutine ml_init

  !> Name, size and layout of tensor n of a role; every layout variable must be known.
  subroutine describe_tensor(role, n, ncol, t)
    integer, intent(in) :: role, n, ncol
    type(ml_tensor), intent(out) :: t
    integer, allocatable :: shape(:)
    character(8) :: what
    integer :: v, expected
    what = merge('input ', 'output', role == HYB_INPUT)
    call hyb_tensor_info(model, role, n, t%name, shape=shape)
    if (size(shape) /= 1) call abort_run("emulator '"//model_path//"': "//trim(what)//" '"//t%name// &
                                          "' is not a flat per-column vector; the host maps variables into 1-d tensors only")
    call hyb_layout(model, role, t%name, t%var, t%offset, t%size)
    if (size(t%var) == 0) call abort_run("emulator '"//model_path//"': "//trim(what)//" '"//t%name// &
                                          "' has no variable layout in its manifest")
    do v = 1, size(t%var)
      expected = variable_size(role, t%var(v))
      if (expected == 0) call abort_run("emulator '"//model_path//"': "//trim(what)//" '"//t%name// &
                                         "' holds variable '"//trim(t%var(v))//"', which hybridge-host does not provide")
      if (expected /= t%size(v)) call abort_run("emulator '"//model_path//"': variable '"//trim(t%var(v))// &
                                                 "' of '"//t%name//"' has the wrong size (expected "//itoa(expected)// &
                                                 ', manifest says '//itoa(t%size(v))//')')
    end do
    allocate (t%x(shape(1), ncol))
  end subroutine describe_tensor

  !> Size of a variable the host provides (inputs) or accepts (outputs); 0 if unknown.
  integer function variable_size(role, name)
    integer, intent(in) :: role
    character(*), intent(in) :: name
    variable_size = 0
    if (role == HYB_INPUT) then
      select case (trim(name))
      case ('state_t', 'state_q0001')
        variable_size = nlev
      case ('state_ps', 'pbuf_SOLIN', 'pbuf_LHFLX', 'pbuf_SHFLX', 'pbuf_COSZRS')
        variable_size = 1
      case default
        continue  ! not a variable the host provides: size 0, refused by the caller
      end select
    else
      select case (trim(name))
      case ('ptend_t', 'ptend_q0001')
        variable_size = nlev
      case ('cam_out_NETSW', 'cam_out_FLWDS', 'cam_out_PRECSC', 'cam_out_PRECC', &
            'cam_out_SOLS', 'cam_out_SOLL', 'cam_out_SOLSD', 'cam_out_SOLLD')
            variable_size = 1
      case default
        continue  ! not a variable the host provides: size 0, refused by the caller
      end select
    end if
  end function variable_size

  !> Run the emulator on all columns. ok = .false. (with errmsg) when the engine fails;
  !! col_ok(i) = .false. where column i got a non-finite output, or, with ml_guard =
  !! 'fallback', where its inputs or outputs left the training range (guarded(i) = .true.:
  !! the conventional physics takes the column). With ml_guard = 'clip' guarded(i) marks the
  !! columns the engine clipped; with 'off' it is .false. everywhere.
  subroutine ml_physics(state, ptend, cam_out, col_ok, guarded, ok, errmsg)
    type(physics_state), intent(in) :: state
    type(physics_ptend), intent(inout) :: ptend
    type(cam_out_t), intent(inout) :: cam_out
    logical, intent(out) :: col_ok(:), guarded(:), ok
    character(:), allocatable, intent(out) :: errmsg
    character(1024) :: msg
    integer :: n, v, a, b, ierr, run_ierr, i

    do n = 1, size(inputs)
      do v = 1, size(inputs(n)%var)
        a = inputs(n)%offset(v) + 1
        b = inputs(n)%offset(v) + inputs(n)%size(v)
        select case (trim(inputs(n)%var(v)))
        case ('state_t')
          inputs(n)%x(a:b, :) = state%t
        case ('state_q0001')
          inputs(n)%x(a:b, :) = state%q
        case ('state_ps')
          inputs(n)%x(a, :) = state%ps
        case ('pbuf_SOLIN')
          inputs(n)%x(a, :) = state%solin
        case ('pbuf_LHFLX')
          inputs(n)%x(a, :) = state%lhflx
        case ('pbuf_SHFLX')
          inputs(n)%x(a, :) = state%shflx
        case ('pbuf_COSZRS')
          inputs(n)%x(a, :) = state%coszrs
        case default
          continue  ! only variables the host provides pass ml_init
        end select
      end do
    end do

    msg = ''
    ierr = HYB_OK
    do n = 1, size(inputs)
      if (ierr == HYB_OK) call hyb_bind_input(model, inputs(n)%name, inputs(n)%x, stat=ierr, errmsg=msg)
    end do
    do n = 1, size(outputs)
      if (ierr == HYB_OK) call hyb_bind_output(model, outputs(n)%name, outputs(n)%x, stat=ierr, errmsg=msg)
    end do
    if (ierr == HYB_OK) then
      call hyb_run(model, stat=ierr, errmsg=msg)
    else
      ! hyb_run is collective with batching = 'node': it still takes place, and fails on
      ! every rank of the node because of this rank's failed bind.
      call hyb_run(model, stat=run_ierr)
    end if
    ok = ierr == HYB_OK
    col_ok = ok
    guarded = .false.
    if (ok .and. guard /= 'off') then
      call hyb_guard_columns(model, first_input(1:state%ncol), first_output(1:state%ncol), stat=ierr, errmsg=msg)
      ok = ierr == HYB_OK
      guarded = first_input(1:state%ncol) >= 0 .or. first_output(1:state%ncol) >= 0
    end if
    if (.not. ok) then
      errmsg = "emulator '"//model_path//"': "//trim(msg)
      return
    end if
    if (guard == 'fallback') col_ok = .not. guarded

    do n = 1, size(outputs)
      do i = 1, state%ncol
        col_ok(i) = col_ok(i) .and. all(ieee_is_finite(outputs(n)%x(:, i)))
      end do
      do v = 1, size(outputs(n)%var)
        a = outputs(n)%offset(v) + 1
        b = outputs(n)%offset(v) + outputs(n)%size(v)
        select case (trim(outputs(n)%var(v)))
        case ('ptend_t')
          ptend%t = outputs(n)%x(a:b, :)
        case ('ptend_q0001')
          ptend%q = outputs(n)%x(a:b, :)
        case ('cam_out_NETSW')
          cam_out%netsw = outputs(n)%x(a, :)
        case ('cam_out_FLWDS')
          cam_out%flwds = outputs(n)%x(a, :)
        case ('cam_out_PRECSC')
          cam_out%precsc = outputs(n)%x(a, :)
        case ('cam_out_PRECC')
          cam_out%precc = outputs(n)%x(a, :)
        case ('cam_out_SOLS')
          cam_out%sols = outputs(n)%x(a, :)
        case ('cam_out_SOLL')
          cam_out%soll = outputs(n)%x(a, :)
        case ('cam_out_SOLSD')
          cam_out%solsd = outputs(n)%x(a, :)
        case ('cam_out_SOLLD')
          cam_out%solld = outputs(n)%x(a, :)
        case default
          continue  ! only variables the host uses pass ml_init
        end select
      end do
    end do
  end subroutine ml_physics

  !> Values of recurrent state per column, all state tensors together.
  integer function ml_state_size()
    integer :: n
    ml_state_size = 0
    if (.not. allocated(states)) return
    do n = 1, size(states)
      ml_state_size = ml_state_size + product(states(n)%shape)
    end do
  end function ml_state_size

  !> buf(ml_state_size(), ncol): the states one after the other, each in host layout.
  subroutine ml_get_state(buf)
    real(r8), intent(out) :: buf(:, :)
    call copy_states(buf, get=.true.)
  end subroutine ml_get_state

  subroutine ml_set_state(buf)
    real(r8), intent(in) :: buf(:, :)
    real(r8) :: work(size(buf, 1), size(buf, 2))
    work = buf
    call copy_states(work, get=.false.)
  end subroutine ml_set_state

  !> Per-column shape [d1, .., dk] is the Fortran array (dk, .., d1, ncol); a flat
  !! contiguous buffer is viewed with that shape through pointer bounds remapping.
  subroutine copy_states(buf, get)
    real(r8), intent(inout) :: buf(:, :)
    logical, intent(in) :: get
    real(r8), allocatable, target :: flat(:)
    real(r8), pointer :: h2(:, :), h3(:, :, :), h4(:, :, :, :)
    integer :: n, off, len, ncol, ierr
    integer, allocatable :: s(:)
    character(1024) :: msg
    ncol = size(buf, 2)
    off = 0
    do n = 1, size(states)
      s = states(n)%shape(size(states(n)%shape):1:-1)
      len = product(s)
      allocate (flat(len*ncol))
      if (.not. get) flat = reshape(buf(off + 1:off + len, :), [len*ncol])
      msg = ''
      select case (size(s))
      case (1)
        h2(1:s(1), 1:ncol) => flat
        if (get) call hyb_get_state(model, states(n)%name, h2, stat=ierr, errmsg=msg)
        if (.not. get) call hyb_set_state(model, states(n)%name, h2, stat=ierr, errmsg=msg)
      case (2)
        h3(1:s(1), 1:s(2), 1:ncol) => flat
        if (get) call hyb_get_state(model, states(n)%name, h3, stat=ierr, errmsg=msg)
        if (.not. get) call hyb_set_state(model, states(n)%name, h3, stat=ierr, errmsg=msg)
      case default
        h4(1:s(1), 1:s(2), 1:s(3), 1:ncol) => flat
        if (get) call hyb_get_state(model, states(n)%name, h4, stat=ierr, errmsg=msg)
        if (.not. get) call hyb_set_state(model, states(n)%name, h4, stat=ierr, errmsg=msg)
      end select
      if (ierr /= HYB_OK) call abort_run("emulator '"//model_path//"': recurrent state '"// &
                                         states(n)%name//"': "//trim(msg))
      if (get) buf(off + 1:off + len, :) = reshape(flat, [len, ncol])
      deallocate (flat)
      off = off + len
    end do
  end subroutine copy_states

  subroutine ml_finalize()
    call hyb_free(model)
  end subroutine ml_finalize

  pure function itoa(i) result(s)
    integer, intent(in) :: i
    character(:), allocatable :: s
    character(16) :: buf
    write (buf, '(i0)') i
    s = trim(buf)
  end function itoa
end module physics_ml
