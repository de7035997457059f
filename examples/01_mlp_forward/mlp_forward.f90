!> Example 01: run a ClimSim v1 emulator on one batch of columns from Fortran.
!>
!> Usage: mlp_forward MODEL.pt
!> The input columns are filled by variable name through the manifest's layout
!> (state_t, state_q0001, state_ps, ...), as a physics driver would from its state.
program mlp_forward
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  use, intrinsic :: iso_fortran_env, only: real64
  use hybridge
  implicit none (type, external)
  integer, parameter :: ncol = 4
  type(hyb_model) :: model
  real(real64), allocatable, target :: x(:, :), y(:, :)   ! x(nfeature, ncol), y(noutput, ncol)
  character(len=1024) :: path
  character(:), allocatable :: name
  character(len=32), allocatable :: names(:)
  integer, allocatable :: shape(:), offsets(:), sizes(:)
  integer :: i, icol

  if (command_argument_count() /= 1) error stop 'usage: mlp_forward MODEL.pt'
  call get_command_argument(1, path)

  ! Without stat=, any failure stops the program with a message naming the problem.
  call hyb_load(model, trim(path), device='cpu', options='threads=1;nonfinite=reject')

  call hyb_tensor_info(model, HYB_INPUT, 1, name, shape)
  allocate(x(shape(1), ncol))
  call hyb_tensor_info(model, HYB_OUTPUT, 1, name, shape)
  allocate(y(shape(1), ncol))

  ! A mid-latitude-like column, slightly different in each column.
  call hyb_layout(model, HYB_INPUT, 'x', names, offsets, sizes)
  do i = 1, size(names)
    associate (v => x(offsets(i) + 1:offsets(i) + sizes(i), :))
      select case (trim(names(i)))
      case ('state_t')
        v = 250.0_real64       ! K
      case ('state_q0001')
        v = 4.0e-3_real64      ! kg/kg
      case ('state_ps')
        v = 1.0e5_real64       ! Pa
      case ('pbuf_SOLIN')
        v = 340.0_real64       ! W/m2
      case ('pbuf_LHFLX')
        v = 80.0_real64        ! W/m2
      case ('pbuf_SHFLX')
        v = 20.0_real64        ! W/m2
      case default
        v = 0.0_real64
      end select
    end associate
  end do
  do icol = 1, ncol
    x(:, icol) = x(:, icol) * (1.0_real64 + 0.01_real64 * (icol - 1))
  end do

  call hyb_forward(model, x, y)

  if (.not. all(ieee_is_finite(y))) error stop 'mlp_forward: non-finite output'
  call hyb_layout(model, HYB_OUTPUT, 'y', names, offsets, sizes)
  do i = 1, size(names)
    if (names(i) == 'ptend_t') then
      print '(a, 4es12.4)', 'ptend_t at the lowest level (K/s): ', y(offsets(i) + sizes(i), :)
    end if
  end do
  print '(a, i0, a, i0, a, i0, a)', 'mlp_forward: ', ncol, ' columns, ', size(x, 1), &
    ' inputs -> ', size(y, 1), ' outputs, ok'
  call hyb_free(model)
end program mlp_forward
