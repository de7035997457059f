!> PYREF for the other model kinds: a float64 model (no casts on a real64 host) loaded with
!> its manifest, and a float32 model saved without a manifest, loaded step by step with
!> hyb_create / hyb_declare / hyb_load (the engine checks the declarations by a dry run).
program test_pyref_declared
  use, intrinsic :: iso_fortran_env, only: real64
  use fixtures
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model
  real(real64), allocatable :: raw(:), ref(:)
  integer, allocatable :: shp(:)
  real(real64), allocatable, target :: x(:, :), y(:, :)
  integer :: ncol, nx, ny

  call read_data('float64', 'in', 'x', raw, shp)   ! [1, ncol, 16]
  ncol = shp(2)
  nx = shp(3)
  x = reshape(raw, [nx, ncol])
  call read_data('float64', 'ref', 'y', ref, shp)
  ny = shp(3)
  allocate(y(ny, ncol))
  call hyb_load(model, model_path('float64'))
  call hyb_forward(model, x, y)
  call expect_equal_bits('float64 model', reshape(y, [size(y)]), ref, ny)
  call hyb_free(model)

  call read_data('no_manifest', 'in', 'x', raw, shp)
  x = reshape(raw, [nx, ncol])
  call read_data('no_manifest', 'ref', 'y', ref, shp)
  call hyb_create(model)
  call hyb_set_option(model, 'device', 'cpu')
  call hyb_declare(model, HYB_INPUT, 'x', [nx], HYB_FLOAT32)
  call hyb_declare(model, HYB_OUTPUT, 'y', [ny], HYB_FLOAT32)
  call hyb_load(model, model_path('no_manifest'))
  call hyb_forward(model, x, y)
  call expect_equal_bits('model without manifest, declared', reshape(y, [size(y)]), ref, ny)
  call hyb_free(model)
end program test_pyref_declared
