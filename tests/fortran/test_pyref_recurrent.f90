!> PYREF and restart: a GRU model with recurrent state h [layers=2, hidden=16] (column axis
!> 1 inside the model) run for 3 steps equals the Python reference bit for bit, outputs
!> and state after every step. Then, as a restart would: save the state after step 1, run
!> step 2, restore the saved state, rerun step 2 -> identical; reset -> step 1 again.
program test_pyref_recurrent
  use, intrinsic :: iso_fortran_env, only: real32, real64
  use fixtures
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model
  real(real64), allocatable :: raw(:), ref_y(:, :, :), ref_h(:, :, :, :)
  integer, allocatable :: shp(:)
  real(real64), allocatable, target :: x(:, :, :), y(:, :), h(:, :, :), h_step1(:, :, :), &
                                       y_step2(:, :)
  real(real32), allocatable, target :: h4(:, :, :)
  integer :: nstep, ncol, nx, ny, nlayer, nhidden, step
  character(len=48) :: label

  call read_data('recurrent', 'in', 'x', raw, shp)   ! [nstep, ncol, nx]
  nstep = shp(1)
  ncol = shp(2)
  nx = shp(3)
  allocate(x(nx, ncol, nstep))
  x = reshape(raw, [nx, ncol, nstep])
  call read_data('recurrent', 'ref', 'y', raw, shp)  ! [nstep, ncol, ny]
  ny = shp(3)
  ref_y = reshape(raw, [ny, ncol, nstep])
  call read_data('recurrent', 'ref', 'h', raw, shp)  ! [nstep, ncol, nlayer, nhidden]
  nlayer = shp(3)
  nhidden = shp(4)
  ref_h = reshape(raw, [nhidden, nlayer, ncol, nstep])
  allocate(y(ny, ncol), h(nhidden, nlayer, ncol), h4(nhidden, nlayer, ncol))

  call hyb_load(model, model_path('recurrent'), device='cpu')
  do step = 1, nstep
    call hyb_forward(model, x(:, :, step), y)
    call hyb_get_state(model, 'h', h)
    write(label, "('step ', i0, ', y')") step
    call expect_equal_bits(trim(label), reshape(y, [size(y)]), &
                           reshape(ref_y(:, :, step), [size(y)]), ny)
    write(label, "('step ', i0, ', state h')") step
    call expect_equal_bits(trim(label), reshape(h, [size(h)]), &
                           reshape(ref_h(:, :, :, step), [size(h)]), nhidden * nlayer)
    if (step == 1) h_step1 = h
    if (step == 2) y_step2 = y
  end do

  ! Restart: restore the state written after step 1 and rerun step 2.
  call hyb_set_state(model, 'h', h_step1)
  call hyb_forward(model, x(:, :, 2), y)
  call expect_equal_bits('step 2 after set_state (restart)', reshape(y, [size(y)]), &
                         reshape(y_step2, [size(y)]), ny)

  ! The same through a real32 restart field: h after step 1 is float32 in the model,
  ! so a real32 copy holds it exactly.
  h4 = real(h_step1, real32)
  call hyb_set_state(model, 'h', h4)
  call hyb_get_state(model, 'h', h)
  call expect_equal_bits('state h through a real32 array', reshape(h, [size(h)]), &
                         reshape(h_step1, [size(h)]), nhidden * nlayer)

  ! Reset: the state starts from zero again, as before step 1.
  call hyb_reset_state(model)
  call hyb_forward(model, x(:, :, 1), y)
  call expect_equal_bits('step 1 after reset_state', reshape(y, [size(y)]), &
                         reshape(ref_y(:, :, 1), [size(y)]), ny)
  call hyb_free(model)
end program test_pyref_recurrent
