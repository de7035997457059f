!> Models as users bring them, from Fortran (issue 17):
!>  - an input without a column axis (`field`, batch_axis -1): bound with its own shape and
!>    equal to the Python reference bit for bit;
!>  - an integer input (`surface`, int64 in the model) bound from an integer(int32) array: bit
!>    for bit; the same input from a real64 array is refused naming the tensor;
!>  - a model that raises its own RuntimeError: errmsg carries the model's message and line.
program test_any_model
  use, intrinsic :: iso_fortran_env, only: real64, int32
  use fixtures
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model
  real(real64), allocatable :: raw(:), ref(:)
  integer, allocatable :: shp(:)
  real(real64), allocatable, target :: x(:, :), field(:), y(:, :), surface_real(:, :)
  integer(int32), allocatable, target :: surface(:, :)
  integer :: ncol, ierr
  character(len=1024) :: msg

  ! ---- an input without a column axis
  call read_data('field_input', 'in', 'x', raw, shp)        ! [1, ncol, 8]
  ncol = shp(2)
  x = reshape(raw, [8, ncol])
  call read_data('field_input', 'in', 'field', raw, shp)    ! [1, 5]: no column axis
  call expect_true('field has no column axis in the fixture', size(shp) == 2 .and. shp(2) == 5)
  field = raw
  call read_data('field_input', 'ref', 'y', ref, shp)
  allocate (y(3, ncol))
  call hyb_load(model, model_path('field_input'))
  call hyb_bind_input(model, 'x', x)
  call hyb_bind_input(model, 'field', field)
  call hyb_bind_output(model, 'y', y)
  call hyb_run(model)
  call expect_equal_bits('unbatched field, y', reshape(y, [size(y)]), ref, 3)
  ! the field bound as if it had a column axis is refused, naming the tensor and its shape
  call hyb_bind_input(model, 'field', reshape(field, [5, 1]), stat=ierr, errmsg=msg)
  call expect_status('field with a column axis', ierr, HYB_ERR_SHAPE, msg, "input 'field'")
  call expect_true('the message gives the expected shape', index(msg, 'expected [5]') > 0)
  call hyb_free(model)

  ! ---- an integer input
  call read_data('int_input', 'in', 'x', raw, shp)          ! [1, ncol, 6]
  ncol = shp(2)
  x = reshape(raw, [6, ncol])
  call read_data('int_input', 'in', 'surface', raw, shp)    ! [1, ncol, 1], whole numbers
  surface = reshape(int(raw, int32), [1, ncol])
  surface_real = reshape(raw, [1, ncol])
  call read_data('int_input', 'ref', 'y', ref, shp)
  deallocate (y)
  allocate (y(4, ncol))
  call hyb_load(model, model_path('int_input'))
  call hyb_bind_input(model, 'x', x)
  call hyb_bind_input(model, 'surface', surface)
  call hyb_bind_output(model, 'y', y)
  call hyb_run(model)
  call expect_equal_bits('integer surface, y', reshape(y, [size(y)]), ref, 4)
  call hyb_bind_input(model, 'surface', surface_real, stat=ierr, errmsg=msg)
  call expect_status('real64 array for an int64 input', ierr, HYB_ERR_DTYPE, msg, "input 'surface'")
  call expect_true('the message names both types', index(msg, 'float64') > 0 .and. index(msg, 'int64') > 0)
  call hyb_free(model)

  ! ---- the model's own error, whole
  deallocate (x, y)
  allocate (x(4, 5), y(4, 5))
  x = 1.0_real64
  call hyb_load(model, model_path('raiser'))
  msg = ''
  call hyb_forward(model, x, y, stat=ierr, errmsg=msg)
  call expect_status('a model that raises', ierr, HYB_ERR_RUNTIME, msg, &
                     'RuntimeError: emulator: more than 3 columns in one batch')
  call expect_true("errmsg names the model's line", index(msg, '[model code') > 0 .and. &
                   index(msg, 'raise RuntimeError') > 0)
  call hyb_free(model)
  print '(a)', 'test_any_model: ok'
end program test_any_model
