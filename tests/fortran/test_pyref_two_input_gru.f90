!> A user's own network through the public Python API, from Fortran (issue 17): a hand-built
!> GRU with two inputs (profile [8], surface [3]) and recurrent memory h [2, 16] on column
!> axis 1, exported by hybridge.export_model with its declarations. Loaded with its manifest
!> checked (names against forward's arguments, checksum), bound by name, run for 3 steps:
!> outputs and state equal the Python reference bit for bit after every step.
program test_pyref_two_input_gru
  use, intrinsic :: iso_fortran_env, only: real64
  use fixtures
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model
  real(real64), allocatable :: raw(:), ref_y(:, :, :), ref_h(:, :, :, :)
  integer, allocatable :: shp(:)
  real(real64), allocatable, target :: profile(:, :, :), surface(:, :, :), tendency(:, :), h(:, :, :)
  integer :: nstep, ncol, step
  character(len=48) :: label
  character(:), allocatable :: name

  call read_data('two_input_gru', 'in', 'profile', raw, shp)    ! [nstep, ncol, 8]
  nstep = shp(1)
  ncol = shp(2)
  ! explicit allocations: gfortran 12 warns (wrongly) on reshape into unallocated rank-3 arrays
  allocate (profile(8, ncol, nstep), surface(3, ncol, nstep), ref_y(8, ncol, nstep), ref_h(16, 2, ncol, nstep))
  allocate (tendency(8, ncol), h(16, 2, ncol))
  profile = reshape(raw, [8, ncol, nstep])
  call read_data('two_input_gru', 'in', 'surface', raw, shp)    ! [nstep, ncol, 3]
  surface = reshape(raw, [3, ncol, nstep])
  call read_data('two_input_gru', 'ref', 'tendency', raw, shp)
  ref_y = reshape(raw, [8, ncol, nstep])
  call read_data('two_input_gru', 'ref', 'h', raw, shp)         ! [nstep, ncol, 2, 16]
  ref_h = reshape(raw, [16, 2, ncol, nstep])

  call hyb_load(model, model_path('two_input_gru'))
  call hyb_tensor_info(model, HYB_INPUT, 2, name)
  call expect_true("the second input is 'surface'", name == 'surface')
  do step = 1, nstep
    call hyb_bind_input(model, 'surface', surface(:, :, step))
    call hyb_bind_input(model, 'profile', profile(:, :, step))
    call hyb_bind_output(model, 'tendency', tendency)
    call hyb_run(model)
    call hyb_get_state(model, 'h', h)
    write (label, "('step ', i0, ', tendency')") step
    call expect_equal_bits(trim(label), reshape(tendency, [size(tendency)]), &
                           reshape(ref_y(:, :, step), [size(tendency)]), 8)
    write (label, "('step ', i0, ', state h')") step
    call expect_equal_bits(trim(label), reshape(h, [size(h)]), reshape(ref_h(:, :, :, step), [size(h)]), 32)
  end do
  call hyb_free(model)
end program test_pyref_two_input_gru
