!> The hybridge Fortran API as plain procedures that f90wrap can wrap (layer: Fortran API,
!! test access). The verification harness (python/hybridge/verify) calls these from Python on
!! every MPI rank, so its PYREF rows go through the same hyb_load / hyb_bind_input /
!! hyb_bind_output / hyb_run / hyb_get_state / hyb_set_state calls a climate model makes.
!!
!! Arrays cross as x(nfeature, ncol) real(real64), nfeature = product of the per-column
!! shape; tensors with a 2-d per-column shape [d1, d2] are handed to the API as the
!! x(d2, d1, ncol) view of the same memory. Every procedure returns stat (HYB_OK = 0) and
!! errmsg instead of stopping, so Python can report the failure.
module verify_api
  use, intrinsic :: iso_c_binding, only: c_loc, c_f_pointer
  use, intrinsic :: iso_fortran_env, only: real64
  use hybridge, only: hyb_bind_input, hyb_bind_output, hyb_count, HYB_ERR_ARGUMENT, HYB_ERR_HANDLE, &
    HYB_ERR_NAME, HYB_ERR_ORDER, HYB_ERR_SHAPE, hyb_free, hyb_get_state, HYB_INPUT, hyb_load, &
    hyb_model, HYB_OK, HYB_OUTPUT, hyb_reset_state, hyb_run, hyb_set_option, hyb_set_state, &
    HYB_STATE, hyb_tensor_info
  use verify_store, only: tensor_buffer, model_slot, slots, max_models
  implicit none (type, external)
  private
  public :: va_load, va_free, va_set_option, va_set_input, va_run, va_get_output, &
            va_get_state, va_set_state, va_reset_state

contains

  !> Load path with options "key=value;..." into a free slot (1..16).
  subroutine va_load(path, options, slot, stat, errmsg)
    character(len=*), intent(in) :: path, options
    integer, intent(out) :: slot, stat
    character(len=512), intent(out) :: errmsg
    integer :: n

    errmsg = ''
    slot = 0
    do n = 1, max_models
      if (slots(n)%model%handle == 0) then
        slot = n
        exit
      end if
    end do
    if (slot == 0) then
      stat = HYB_ERR_ARGUMENT
      errmsg = 'verify_api: all model slots are in use'
      return
    end if
    call hyb_load(slots(slot)%model, path, options=options, stat=stat, errmsg=errmsg)
    if (stat /= HYB_OK) then
      slot = 0
      return
    end if
    call describe(slots(slot)%model, HYB_INPUT, slots(slot)%inputs, stat, errmsg)
    if (stat == HYB_OK) call describe(slots(slot)%model, HYB_OUTPUT, slots(slot)%outputs, stat, errmsg)
    if (stat == HYB_OK) call describe(slots(slot)%model, HYB_STATE, slots(slot)%states, stat, errmsg)
  end subroutine va_load

  subroutine va_free(slot, stat, errmsg)
    integer, intent(in) :: slot
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg

    errmsg = ''
    if (.not. valid_slot(slot, stat, errmsg)) return
    call hyb_free(slots(slot)%model, stat=stat, errmsg=errmsg)
    if (allocated(slots(slot)%inputs)) deallocate (slots(slot)%inputs)
    if (allocated(slots(slot)%outputs)) deallocate (slots(slot)%outputs)
    if (allocated(slots(slot)%states)) deallocate (slots(slot)%states)
  end subroutine va_free

  !> An option that may change after load (threads, nonfinite).
  subroutine va_set_option(slot, key, val, stat, errmsg)
    integer, intent(in) :: slot
    character(len=*), intent(in) :: key, val
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg

    errmsg = ''
    if (.not. valid_slot(slot, stat, errmsg)) return
    call hyb_set_option(slots(slot)%model, key, val, stat=stat, errmsg=errmsg)
  end subroutine va_set_option

  !> Copy input tensor `name` for the next va_run: x(nfeature, ncol).
  subroutine va_set_input(slot, name, x, stat, errmsg)
    integer, intent(in) :: slot
    character(len=*), intent(in) :: name
    real(real64), intent(in) :: x(:, :)
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg
    integer :: n

    errmsg = ''
    if (.not. valid_slot(slot, stat, errmsg)) return
    n = find(slots(slot)%inputs, name, 'input', stat, errmsg)
    if (n == 0) return
    if (size(x, 1) /= product(slots(slot)%inputs(n)%shape)) then
      stat = HYB_ERR_SHAPE
      write (errmsg, '(a,i0,a,i0)') "verify_api: input '"//name//"' has ", size(x, 1), &
        ' values per column, the model expects ', product(slots(slot)%inputs(n)%shape)
      return
    end if
    slots(slot)%inputs(n)%data = x
  end subroutine va_set_input

  !> Bind every input set by va_set_input and every output (ncol columns), then hyb_run.
  subroutine va_run(slot, ncol, stat, errmsg)
    integer, intent(in) :: slot, ncol
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg
    integer :: n

    errmsg = ''
    if (.not. valid_slot(slot, stat, errmsg)) return
    associate (s => slots(slot))
      do n = 1, size(s%inputs)
        if (.not. allocated(s%inputs(n)%data)) then
          stat = HYB_ERR_ARGUMENT
          errmsg = "verify_api: input '"//s%inputs(n)%name//"' was not set before va_run"
          return
        end if
        if (size(s%inputs(n)%data, 2) /= ncol) then
          stat = HYB_ERR_SHAPE
          write (errmsg, '(a,i0,a,i0)') "verify_api: input '"//s%inputs(n)%name//"' has ", &
            size(s%inputs(n)%data, 2), ' columns, va_run was given ncol = ', ncol
          return
        end if
        call bind(s%model, HYB_INPUT, s%inputs(n), stat, errmsg)
        if (stat /= HYB_OK) return
      end do
      do n = 1, size(s%outputs)
        if (allocated(s%outputs(n)%data)) deallocate (s%outputs(n)%data)
        allocate (s%outputs(n)%data(product(s%outputs(n)%shape), ncol))
        call bind(s%model, HYB_OUTPUT, s%outputs(n), stat, errmsg)
        if (stat /= HYB_OK) return
      end do
      call hyb_run(s%model, stat=stat, errmsg=errmsg)
    end associate
  end subroutine va_run

  !> Copy output tensor `name` of the last va_run into y(nfeature, ncol).
  subroutine va_get_output(slot, name, y, stat, errmsg)
    integer, intent(in) :: slot
    character(len=*), intent(in) :: name
    real(real64), intent(inout) :: y(:, :)
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg
    integer :: n

    errmsg = ''
    if (.not. valid_slot(slot, stat, errmsg)) return
    n = find(slots(slot)%outputs, name, 'output', stat, errmsg)
    if (n == 0) return
    if (.not. allocated(slots(slot)%outputs(n)%data)) then
      stat = HYB_ERR_ORDER
      errmsg = "verify_api: output '"//name//"' requested before va_run"
      return
    end if
    if (any(shape(y) /= shape(slots(slot)%outputs(n)%data))) then
      stat = HYB_ERR_SHAPE
      write (errmsg, '(a,2(i0,1x),a,2(i0,1x))') "verify_api: output '"//name//"' is ", &
        shape(slots(slot)%outputs(n)%data), ', got an array of shape ', shape(y)
      return
    end if
    y = slots(slot)%outputs(n)%data
  end subroutine va_get_output

  !> Recurrent state `name` through hyb_get_state, as h(nfeature, ncol).
  subroutine va_get_state(slot, name, h, stat, errmsg)
    integer, intent(in) :: slot
    character(len=*), intent(in) :: name
    real(real64), intent(inout), target :: h(:, :)
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg
    call state_io(slot, name, h, .true., stat, errmsg)
  end subroutine va_get_state

  !> Recurrent state `name` through hyb_set_state, from h(nfeature, ncol).
  subroutine va_set_state(slot, name, h, stat, errmsg)
    integer, intent(in) :: slot
    character(len=*), intent(in) :: name
    real(real64), intent(inout), target :: h(:, :)
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg
    call state_io(slot, name, h, .false., stat, errmsg)
  end subroutine va_set_state

  subroutine va_reset_state(slot, stat, errmsg)
    integer, intent(in) :: slot
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg

    errmsg = ''
    if (.not. valid_slot(slot, stat, errmsg)) return
    call hyb_reset_state(slots(slot)%model, stat=stat, errmsg=errmsg)
  end subroutine va_reset_state

  ! ---- helpers ----

  logical function valid_slot(slot, stat, errmsg)
    integer, intent(in) :: slot
    integer, intent(out) :: stat
    character(len=*), intent(inout) :: errmsg

    stat = HYB_OK
    valid_slot = slot >= 1 .and. slot <= max_models
    if (valid_slot) valid_slot = slots(max(1, slot))%model%handle /= 0
    if (.not. valid_slot) then
      stat = HYB_ERR_HANDLE
      write (errmsg, '(a,i0,a)') 'verify_api: slot ', slot, ' holds no loaded model'
    end if
  end function valid_slot

  !> Names and per-column shapes of the tensors of one role (at most 2-d per column).
  subroutine describe(model, role, tensors, stat, errmsg)
    type(hyb_model), intent(in) :: model
    integer, intent(in) :: role
    type(tensor_buffer), allocatable, intent(out) :: tensors(:)
    integer, intent(out) :: stat
    character(len=*), intent(inout) :: errmsg
    integer :: n

    stat = HYB_OK
    allocate (tensors(hyb_count(model, role, stat=stat, errmsg=errmsg)))
    if (stat /= HYB_OK) return
    do n = 1, size(tensors)
      call hyb_tensor_info(model, role, n, tensors(n)%name, shape=tensors(n)%shape, stat=stat, errmsg=errmsg)
      if (stat /= HYB_OK) return
      if (size(tensors(n)%shape) < 1 .or. size(tensors(n)%shape) > 2) then
        stat = HYB_ERR_SHAPE
        write (errmsg, '(a,i0,a)') "verify_api: tensor '"//tensors(n)%name//"' has ", &
          size(tensors(n)%shape), ' per-column dimensions; verify_api handles 1 or 2'
        return
      end if
    end do
  end subroutine describe

  integer function find(tensors, name, what, stat, errmsg)
    type(tensor_buffer), intent(in) :: tensors(:)
    character(len=*), intent(in) :: name, what
    integer, intent(out) :: stat
    character(len=*), intent(inout) :: errmsg

    stat = HYB_OK
    do find = 1, size(tensors)
      if (tensors(find)%name == name) return
    end do
    find = 0
    stat = HYB_ERR_NAME
    errmsg = 'verify_api: the model has no '//what//" named '"//name//"'"
  end function find

  !> Bind a buffer with the rank the API expects: x(d1, ncol) or x(d2, d1, ncol).
  subroutine bind(model, role, t, stat, errmsg)
    type(hyb_model), intent(in) :: model
    integer, intent(in) :: role
    type(tensor_buffer), intent(inout), target :: t
    integer, intent(out) :: stat
    character(len=*), intent(inout) :: errmsg
    real(real64), pointer :: x3(:, :, :)

    if (size(t%shape) == 1) then
      if (role == HYB_INPUT) call hyb_bind_input(model, t%name, t%data, stat=stat, errmsg=errmsg)
      if (role == HYB_OUTPUT) call hyb_bind_output(model, t%name, t%data, stat=stat, errmsg=errmsg)
    else
      call c_f_pointer(c_loc(t%data), x3, [t%shape(2), t%shape(1), size(t%data, 2)])
      if (role == HYB_INPUT) call hyb_bind_input(model, t%name, x3, stat=stat, errmsg=errmsg)
      if (role == HYB_OUTPUT) call hyb_bind_output(model, t%name, x3, stat=stat, errmsg=errmsg)
    end if
  end subroutine bind

  subroutine state_io(slot, name, h, get, stat, errmsg)
    integer, intent(in) :: slot
    character(len=*), intent(in) :: name
    real(real64), intent(inout), target, contiguous :: h(:, :)
    logical, intent(in) :: get
    integer, intent(out) :: stat
    character(len=512), intent(out) :: errmsg
    real(real64), pointer :: h3(:, :, :)
    integer :: n

    errmsg = ''
    if (.not. valid_slot(slot, stat, errmsg)) return
    n = find(slots(slot)%states, name, 'recurrent state', stat, errmsg)
    if (n == 0) return
    associate (t => slots(slot)%states(n))
      if (size(h, 1) /= product(t%shape)) then
        stat = HYB_ERR_SHAPE
        write (errmsg, '(a,i0,a,i0)') "verify_api: state '"//name//"' has ", product(t%shape), &
          ' values per column, got ', size(h, 1)
        return
      end if
      if (size(t%shape) == 1) then
        if (get) call hyb_get_state(slots(slot)%model, name, h, stat=stat, errmsg=errmsg)
        if (.not. get) call hyb_set_state(slots(slot)%model, name, h, stat=stat, errmsg=errmsg)
      else
        call c_f_pointer(c_loc(h), h3, [t%shape(2), t%shape(1), size(h, 2)])
        if (get) call hyb_get_state(slots(slot)%model, name, h3, stat=stat, errmsg=errmsg)
        if (.not. get) call hyb_set_state(slots(slot)%model, name, h3, stat=stat, errmsg=errmsg)
      end if
    end associate
  end subroutine state_io
end module verify_api
