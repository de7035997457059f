!> PYREF: a model with two named inputs and two named outputs (profiles [2,60] and scalars
!> [4] -> tendencies [2,60] and fluxes [3]), bound by name and run with hyb_run, equals the
!> Python reference bit for bit, with real64 and real32 host arrays. The rank-3 arrays
!> profiles(60, 2, ncol) show the reversed per-column shape. hyb_forward, for one input and
!> one output, refuses it.
program test_pyref_multi_io
  use, intrinsic :: iso_fortran_env, only: real32, real64
  use fixtures
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model
  real(real64), allocatable :: raw(:), ref_tend(:), ref_flux(:)
  integer, allocatable :: shp(:)
  real(real64), allocatable, target :: profiles(:, :, :), scalars(:, :), tendencies(:, :, :), &
                                       fluxes(:, :)
  real(real32), allocatable, target :: profiles4(:, :, :), scalars4(:, :), tendencies4(:, :, :), &
                                       fluxes4(:, :)
  integer :: nlev, ncol, nflux, stat
  character(len=512) :: msg

  call read_data('multi_io', 'in', 'profiles', raw, shp)   ! [1, ncol, 2, nlev]
  ncol = shp(2)
  nlev = shp(4)
  profiles = reshape(raw, [nlev, 2, ncol])
  call read_data('multi_io', 'in', 'scalars', raw, shp)    ! [1, ncol, 4]
  scalars = reshape(raw, [4, ncol])
  call read_data('multi_io', 'ref', 'tendencies', ref_tend, shp)
  call read_data('multi_io', 'ref', 'fluxes', ref_flux, shp)
  nflux = shp(3)
  allocate(tendencies(nlev, 2, ncol), fluxes(nflux, ncol))
  profiles4 = real(profiles, real32)
  scalars4 = real(scalars, real32)
  allocate(tendencies4(nlev, 2, ncol), fluxes4(nflux, ncol))

  call hyb_load(model, model_path('multi_io'), device='cpu')

  call hyb_bind_input(model, 'profiles', profiles)
  call hyb_bind_input(model, 'scalars', scalars)
  call hyb_bind_output(model, 'tendencies', tendencies)
  call hyb_bind_output(model, 'fluxes', fluxes)
  call hyb_run(model)
  call expect_equal_bits('real64 host, tendencies', reshape(tendencies, [size(tendencies)]), &
                         ref_tend, 2 * nlev)
  call expect_equal_bits('real64 host, fluxes', reshape(fluxes, [size(fluxes)]), ref_flux, nflux)

  ! Outputs bound before inputs: the order of the binds does not matter.
  call hyb_bind_output(model, 'fluxes', fluxes4)
  call hyb_bind_output(model, 'tendencies', tendencies4)
  call hyb_bind_input(model, 'scalars', scalars4)
  call hyb_bind_input(model, 'profiles', profiles4)
  call hyb_run(model)
  call expect_equal_bits('real32 host, tendencies', &
                         reshape(real(tendencies4, real64), [size(tendencies4)]), ref_tend, 2 * nlev)
  call expect_equal_bits('real32 host, fluxes', reshape(real(fluxes4, real64), [size(fluxes4)]), &
                         ref_flux, nflux)

  ! hyb_forward is for one input and one output: refused, naming the way for this model, and
  ! the binds and run still work after it.
  call hyb_forward(model, scalars, fluxes, stat=stat, errmsg=msg)
  call expect_status('hyb_forward on two inputs and two outputs', stat, HYB_ERR_ARGUMENT, msg, &
                     'needs a model with one input and one output, this one has 2 and 2')
  call hyb_bind_input(model, 'profiles', profiles)
  call hyb_bind_input(model, 'scalars', scalars)
  call hyb_bind_output(model, 'tendencies', tendencies)
  call hyb_bind_output(model, 'fluxes', fluxes)
  call hyb_run(model)
  call expect_equal_bits('a run after the refused hyb_forward', reshape(fluxes, [size(fluxes)]), ref_flux, nflux)
  call hyb_free(model)
end program test_pyref_multi_io
