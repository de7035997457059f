!> Fourier transforms along latitude circles for the spectral transform: many real lines at
!! once, x(nline, nlon), the line index fastest so that every butterfly runs over contiguous
!! lines (this is also the (nlev, ncol) column layout of the physics).
!!
!!   analysis   c(:, m) = (1/nlon) sum_j x(:, j) exp(-i m lambda_j),   m = 0 .. mmax
!!   synthesis  x(:, j) = Re c(:, 0) + 2 Re sum_{m=1..mmax} c(:, m) exp(i m lambda_j)
!!
!! with lambda_j = 2 pi (j - 1)/nlon. A real sequence of even length N is transformed as one
!! complex sequence of length N/2 (even samples real, odd samples imaginary) and separated
!! afterwards (Cooley, Lewis and Welch 1970, J. Sound Vib. 12, 315; Press et al., Numerical
!! Recipes, 12.3); the complex transform is a mixed-radix Cooley-Tukey transform (Cooley and
!! Tukey 1965, Math. Comput. 19, 297) in Stockham's form for lengths of factors 2, 3, 4, 5. Every line
!! is transformed by the same sequence of operations, whatever else is in the batch, so results
!! do not depend on how latitudes are spread over ranks.
module dyn_fft
  use host_constants, only: r8, pi
  implicit none (type, external)
  private
  public :: fft_plan, fft_plan_init, fft_analysis, fft_synthesis

  type :: fft_plan
    integer :: n = 0                      !< real length (nlon)
    integer :: nh = 0                     !< complex length n/2
    complex(r8), allocatable :: root(:)   !< exp(-2 pi i k/nh), k = 0 .. nh-1
    complex(r8), allocatable :: half(:)   !< exp(-2 pi i k/n), k = 0 .. nh
  end type fft_plan

contains

  !> ok = .false. when n is odd or n/2 has a prime factor above 5.
  subroutine fft_plan_init(plan, n, ok)
    type(fft_plan), intent(out) :: plan
    integer, intent(in) :: n
    logical, intent(out) :: ok
    integer :: k, rest
    ok = mod(n, 2) == 0 .and. n >= 2
    if (.not. ok) return
    plan%n = n
    plan%nh = n/2
    rest = plan%nh
    do k = 2, 5
      do while (mod(rest, k) == 0)
        rest = rest/k
      end do
    end do
    ok = rest == 1
    if (.not. ok) return
    allocate (plan%root(0:plan%nh - 1), plan%half(0:plan%nh))
    do k = 0, plan%nh - 1
      plan%root(k) = cmplx(cos(2.0_r8*pi*k/plan%nh), -sin(2.0_r8*pi*k/plan%nh), r8)
    end do
    do k = 0, plan%nh
      plan%half(k) = cmplx(cos(2.0_r8*pi*k/n), -sin(2.0_r8*pi*k/n), r8)
    end do
  end subroutine fft_plan_init

  !> c(:, 0:mmax) from x(:, 1:nlon); mmax < nlon/2.
  subroutine fft_analysis(plan, x, c)
    type(fft_plan), intent(in) :: plan
    real(r8), intent(in) :: x(:, :)
    complex(r8), intent(out) :: c(:, 0:)
    complex(r8), allocatable :: z(:, :), zf(:, :)
    complex(r8) :: zc(size(x, 1)), even(size(x, 1)), odd(size(x, 1))
    integer :: t, m
    allocate (z(size(x, 1), 0:plan%nh - 1), zf(size(x, 1), 0:plan%nh - 1))
    do t = 0, plan%nh - 1
      z(:, t) = cmplx(x(:, 2*t + 1), x(:, 2*t + 2), r8)
    end do
    call cfft(plan, z, zf, .false.)
    do m = 0, ubound(c, 2)
      zc = conjg(zf(:, mod(plan%nh - m, plan%nh)))
      even = 0.5_r8*(zf(:, m) + zc)
      odd = cmplx(0.0_r8, -0.5_r8, r8)*(zf(:, m) - zc)
      c(:, m) = (even + plan%half(m)*odd)/real(plan%n, r8)
    end do
  end subroutine fft_analysis

  !> x(:, 1:nlon) from c(:, 0:mmax); mmax < nlon/2; the imaginary part of c(:, 0) is ignored.
  subroutine fft_synthesis(plan, c, x)
    type(fft_plan), intent(in) :: plan
    complex(r8), intent(in) :: c(:, 0:)
    real(r8), intent(out) :: x(:, :)
    complex(r8), allocatable :: z(:, :), zf(:, :)
    complex(r8) :: xk(size(x, 1)), xr(size(x, 1))
    integer :: k, mmax, t
    allocate (z(size(x, 1), 0:plan%nh - 1), zf(size(x, 1), 0:plan%nh - 1))
    mmax = ubound(c, 2)
    do k = 0, plan%nh - 1
      ! x_2t = IDFT(X_k + conj X_{nh-k}), x_2t+1 = IDFT(exp(2 pi i k/n) (X_k - conj X_{nh-k})).
      xk = coefficient(k)
      xr = conjg(coefficient(plan%nh - k))
      z(:, k) = (xk + xr) + cmplx(0.0_r8, 1.0_r8, r8)*conjg(plan%half(k))*(xk - xr)
    end do
    call cfft(plan, z, zf, .true.)
    do t = 0, plan%nh - 1
      x(:, 2*t + 1) = real(zf(:, t), r8)
      x(:, 2*t + 2) = aimag(zf(:, t))
    end do

  contains

    !> X_k of the Hermitian spectrum held in c: c_k up to mmax, zero beyond, X_0 real.
    function coefficient(k) result(xc)
      integer, intent(in) :: k
      complex(r8) :: xc(size(x, 1))
      if (k == 0) then
        xc = cmplx(real(c(:, 0), r8), 0.0_r8, r8)
      else if (k <= mmax) then
        xc = c(:, k)
      else
        xc = (0.0_r8, 0.0_r8)
      end if
    end function coefficient
  end subroutine fft_synthesis

  !> Unnormalized complex DFT of length nh along the second axis: zout_k = sum_t zin_t w^(kt),
  !! w = exp(-2 pi i/nh) (forward) or its conjugate (inverse). Stockham's self-sorting
  !! decimation-in-frequency form (e.g. Van Loan 1992, Computational Frameworks for the Fast
  !! Fourier Transform, sec. 1.7; Swarztrauber 1984, Parallel Comput. 1, 45): each stage of
  !! radix p turns s interleaved transforms of length n into s*p of length n/p,
  !!   y(q + s(p j + k)) = [sum_r x(q + s(j + r n/p)) w_p^(r k)] w_n^(j k),
  !! without a bit-reversal pass and with every line of the batch treated alike.
  subroutine cfft(plan, zin, zout, inverse)
    type(fft_plan), intent(in) :: plan
    complex(r8), intent(in) :: zin(:, 0:)
    complex(r8), intent(out) :: zout(:, 0:)
    logical, intent(in) :: inverse
    complex(r8), allocatable :: work(:, :)
    integer :: n, s, p
    logical :: in_work
    allocate (work(size(zin, 1), 0:plan%nh - 1))
    zout = zin
    in_work = .false.
    n = plan%nh
    s = 1
    do while (n > 1)
      p = next_radix(n)
      if (in_work) then
        call stage(work, zout)
      else
        call stage(zout, work)
      end if
      in_work = .not. in_work
      n = n/p
      s = s*p
    end do
    if (in_work) zout = work

  contains

    !> One radix-p stage from src to dst.
    subroutine stage(src, dst)
      complex(r8), intent(in) :: src(:, 0:)
      complex(r8), intent(inout) :: dst(:, 0:)
      complex(r8) :: acc(size(src, 1)), d0(size(src, 1)), d1(size(src, 1)), e0(size(src, 1)), e1(size(src, 1))
      complex(r8) :: i_sign
      integer :: m, j, q, k, r, i0, stride
      m = n/p
      stride = s*m
      i_sign = merge((0.0_r8, 1.0_r8), (0.0_r8, -1.0_r8), inverse)
      do j = 0, m - 1
        do q = 0, s - 1
          i0 = q + s*j
          select case (p)
          case (2)
            dst(:, q + s*2*j) = src(:, i0) + src(:, i0 + stride)
            acc = src(:, i0) - src(:, i0 + stride)
            if (j > 0) acc = twiddle(j*(plan%nh/n))*acc
            dst(:, q + s*(2*j + 1)) = acc
          case (4)
            ! sum_r a_r w_4^(r k), w_4 = -i (forward) or i (inverse)
            d0 = src(:, i0) + src(:, i0 + 2*stride)
            d1 = src(:, i0 + stride) + src(:, i0 + 3*stride)
            e0 = src(:, i0) - src(:, i0 + 2*stride)
            e1 = i_sign*(src(:, i0 + stride) - src(:, i0 + 3*stride))
            dst(:, q + s*4*j) = d0 + d1
            if (j > 0) then
              dst(:, q + s*(4*j + 1)) = twiddle(j*(plan%nh/n))*(e0 + e1)
              dst(:, q + s*(4*j + 2)) = twiddle(2*j*(plan%nh/n))*(d0 - d1)
              dst(:, q + s*(4*j + 3)) = twiddle(3*j*(plan%nh/n))*(e0 - e1)
            else
              dst(:, q + s*(4*j + 1)) = e0 + e1
              dst(:, q + s*(4*j + 2)) = d0 - d1
              dst(:, q + s*(4*j + 3)) = e0 - e1
            end if
          case default
            do k = 0, p - 1
              acc = src(:, i0)
              do r = 1, p - 1
                acc = acc + twiddle(mod(r*k*(plan%nh/p), plan%nh))*src(:, i0 + r*stride)
              end do
              if (j*k > 0) acc = twiddle(mod(j*k*(plan%nh/n), plan%nh))*acc
              dst(:, q + s*(p*j + k)) = acc
            end do
          end select
        end do
      end do
    end subroutine stage

    complex(r8) function twiddle(e)
      integer, intent(in) :: e
      twiddle = plan%root(e)
      if (inverse) twiddle = conjg(twiddle)
    end function twiddle
  end subroutine cfft

  !> The radix of the next step: 4 where it divides, then 2, 3, 5.
  pure integer function next_radix(length)
    integer, intent(in) :: length
    if (mod(length, 4) == 0) then
      next_radix = 4
    else if (mod(length, 2) == 0) then
      next_radix = 2
    else if (mod(length, 3) == 0) then
      next_radix = 3
    else
      next_radix = 5
    end if
  end function next_radix
end module dyn_fft
