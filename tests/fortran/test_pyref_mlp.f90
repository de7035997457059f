!> PYREF: the ClimSim v1 MLP (124 inputs -> 128 outputs, float32 model) run from Fortran
!> through hyb_forward equals the Python reference bit for bit, for real64 and real32 host
!> arrays and for batches of 1, 7, 16 and 384 columns, on 1 intra-op thread like the
!> reference (write_batch_refs.py). Smaller batches pass the leading columns of the full
!> arrays as contiguous sections (no copy).
program test_pyref_mlp
  use, intrinsic :: iso_fortran_env, only: real32, real64
  use fixtures
  use hybridge
  implicit none (type, external)
  integer, parameter :: batches(4) = [1, 7, 16, 384]
  type(hyb_model) :: model
  real(real64), allocatable :: xin(:), yref(:)
  real(real64), allocatable, target :: x(:, :), y(:, :)
  real(real32), allocatable, target :: x4(:, :), y4(:, :)
  integer, allocatable :: xshape(:), yshape(:)
  character(:), allocatable :: yname
  integer :: nx, ny, ncol, i, n
  character(len=32) :: label

  call read_data('mlp_v1', 'in', 'x', xin, xshape)   ! [1, ncol, 124]
  nx = xshape(3)
  ncol = xshape(2)
  allocate(x(nx, ncol), x4(nx, ncol))
  x = reshape(xin, [nx, ncol])
  x4 = real(x, real32)

  call hyb_load(model, model_path('mlp_v1'), device='cpu', options='threads=1; nonfinite=reject')
  call hyb_tensor_info(model, HYB_OUTPUT, 1, yname, yshape)   ! y [128]
  ny = yshape(1)
  allocate(y(ny, ncol), y4(ny, ncol))
  do i = 1, size(batches)
    n = batches(i)
    yref = read_raw('mlp_v1.ncol' // itoa(n) // '.threads1.ref.y.f64', ny * n)
    y = -1
    y4 = -1
    call hyb_forward(model, x(:, 1:n), y(:, 1:n))
    write(label, "('real64 host, ncol=', i0)") n
    call expect_equal_bits(trim(label), reshape(y(:, 1:n), [ny * n]), yref, ny)
    call hyb_forward(model, x4(:, 1:n), y4(:, 1:n))
    write(label, "('real32 host, ncol=', i0)") n
    call expect_equal_bits(trim(label), reshape(real(y4(:, 1:n), real64), [ny * n]), yref, ny)
  end do
  call hyb_free(model)

contains

  function itoa(i) result(s)
    integer, intent(in) :: i
    character(:), allocatable :: s
    character(len=16) :: buf

    write(buf, '(i0)') i
    s = trim(buf)
  end function itoa
end program test_pyref_mlp
