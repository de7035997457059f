!> Associated Legendre functions at the Gaussian latitudes and the Legendre half of the
!! spectral transform (triangular truncation N), without communication.
!!
!! Fields are expanded in spherical harmonics Y_n^m = P_n^m(mu) exp(i m lambda), 0 <= m <= n <= N,
!! with P_n^m normalized so that int_{-1}^{1} (P_n^m)^2 dmu = 1. They are computed by the standard
!! recurrences (e.g. Durran 2010, Numerical Methods for Fluid Dynamics, 2nd ed., sec. 6.3;
!! Machenhauer 1979, GARP Publ. Ser. 17, ch. 3):
!!   P_0^0 = 1/sqrt(2),  P_m^m = sqrt((2m+1)/(2m)) sqrt(1-mu^2) P_{m-1}^{m-1},
!!   P_n^m = (mu P_{n-1}^m - eps_{n-1}^m P_{n-2}^m)/eps_n^m,  eps_n^m = sqrt((n^2-m^2)/(4n^2-1)),
!! and H_n^m = (1-mu^2) dP_n^m/dmu = -n eps_{n+1}^m P_{n+1}^m + (n+1) eps_n^m P_{n-1}^m.
!!
!! Coefficients are stored m by m, n = m .. N within each m ("canonical order"); a field of
!! nk lines (levels times variables) is x(nk, nspec) in spectral space and F(nk, 0:N, lat) in
!! Fourier space, the line index fastest. Every sum is taken in a fixed order (over latitudes
!! or mirror pairs of them north to south, over n upwards), whatever subset of m or latitudes
!! a rank handles, so the results are bit-identical for any decomposition.
module dyn_legendre
  use dyn_gaussian_grid, only: gaussian_latitudes
  use host_constants, only: r8, rearth
  implicit none (type, external)
  private
  public :: legendre_init, legendre_analysis, legendre_analysis_vector, legendre_synthesis, &
            legendre_synthesis_winds

  type, public :: legendre_t
    integer :: ntr = 0, nlat = 0, nspec = 0
    integer, allocatable :: mstart(:)            !< (0:ntr) index of (m, n = m)
    integer, allocatable :: n_of(:), m_of(:)     !< (nspec) degree and order of each index
    real(r8), allocatable :: mu(:), w(:)         !< (nlat) sin(latitude) north to south, Gaussian weights
    real(r8), allocatable :: p(:, :), h(:, :)    !< (nspec, nlat) P_n^m(mu_j), H_n^m(mu_j)
    real(r8), allocatable :: lap(:)              !< (nspec) -n(n+1)/a^2: the Laplacian [m-2]
    real(r8), allocatable :: inv_lap(:)          !< (nspec) its inverse, 0 for n = 0 [m2]
  end type legendre_t

contains

  subroutine legendre_init(leg, ntr, nlat)
    type(legendre_t), intent(out) :: leg
    integer, intent(in) :: ntr, nlat
    real(r8) :: pm(0:ntr + 1), eps(0:ntr + 1), pmm, s
    integer :: j, m, n, i
    leg%ntr = ntr
    leg%nlat = nlat
    leg%nspec = (ntr + 1)*(ntr + 2)/2
    allocate (leg%mstart(0:ntr), leg%n_of(leg%nspec), leg%m_of(leg%nspec), leg%mu(nlat), leg%w(nlat), &
              leg%p(leg%nspec, nlat), leg%h(leg%nspec, nlat), leg%lap(leg%nspec), leg%inv_lap(leg%nspec))
    i = 1
    do m = 0, ntr
      leg%mstart(m) = i
      do n = m, ntr
        leg%n_of(i) = n
        leg%m_of(i) = m
        leg%lap(i) = -real(n*(n + 1), r8)/rearth**2
        leg%inv_lap(i) = 0.0_r8
        if (n > 0) leg%inv_lap(i) = 1.0_r8/leg%lap(i)
        i = i + 1
      end do
    end do
    call gaussian_latitudes(nlat, leg%mu, leg%w)

    do j = 1, nlat
      s = sqrt(1.0_r8 - leg%mu(j)**2)
      pmm = sqrt(0.5_r8)
      do m = 0, ntr
        if (m > 0) pmm = sqrt(real(2*m + 1, r8)/real(2*m, r8))*s*pmm
        ! P_n^m for n = m .. ntr+1 (the extra degree for H_ntr^m).
        eps = 0.0_r8
        do n = m + 1, ntr + 1
          eps(n) = sqrt(real(n*n - m*m, r8)/real(4*n*n - 1, r8))
        end do
        pm = 0.0_r8
        pm(m) = pmm
        if (m + 1 <= ntr + 1) pm(m + 1) = leg%mu(j)*pmm/eps(m + 1)
        do n = m + 2, ntr + 1
          pm(n) = (leg%mu(j)*pm(n - 1) - eps(n - 1)*pm(n - 2))/eps(n)
        end do
        do n = m, ntr
          i = leg%mstart(m) + n - m
          leg%p(i, j) = pm(n)
          leg%h(i, j) = -real(n, r8)*eps(n + 1)*pm(n + 1)
          if (n > m) leg%h(i, j) = leg%h(i, j) + real(n + 1, r8)*eps(n)*pm(n - 1)
        end do
      end do
    end do
  end subroutine legendre_init

  !> x(:, i) = sum_j w_j P_i(mu_j) F(:, m, j) for the indices i of order m (all latitudes).
  !! The latitudes come in mirror pairs (mu, -mu) with equal weights, and P_n^m(-mu) =
  !! (-1)^(n-m) P_n^m(mu): the sum runs over the northern half with F(mu) + F(-mu) for even
  !! n - m and F(mu) - F(-mu) for odd, half the work.
  subroutine legendre_analysis(leg, m, f, x)
    type(legendre_t), intent(in) :: leg
    integer, intent(in) :: m
    complex(r8), intent(in) :: f(:, 0:, :)
    complex(r8), intent(inout) :: x(:, :)
    complex(r8) :: fs(size(f, 1), leg%nlat/2), fa(size(f, 1), leg%nlat/2)
    integer :: i, j, nh
    nh = leg%nlat/2
    do j = 1, nh
      fs(:, j) = f(:, m, j) + f(:, m, leg%nlat + 1 - j)
      fa(:, j) = f(:, m, j) - f(:, m, leg%nlat + 1 - j)
    end do
    do i = leg%mstart(m), leg%mstart(m) + leg%ntr - m
      x(:, i) = (0.0_r8, 0.0_r8)
      if (mod(leg%n_of(i) - m, 2) == 0) then
        do j = 1, nh
          x(:, i) = x(:, i) + (leg%w(j)*leg%p(i, j))*fs(:, j)
        end do
      else
        do j = 1, nh
          x(:, i) = x(:, i) + (leg%w(j)*leg%p(i, j))*fa(:, j)
        end do
      end if
    end do
  end subroutine legendre_analysis

  !> Divergence and curl of the vector whose cos(latitude)-weighted components have Fourier
  !! coefficients fa (eastward) and fb (northward), for the indices of order m:
  !!   div_i  = (1/a) sum_j w_j/(1-mu_j^2) [ i m fa P_i - fb H_i ]
  !!   curl_i = (1/a) sum_j w_j/(1-mu_j^2) [ i m fb P_i + fa H_i ]
  !! (the analysis of (1/(a(1-mu^2))) [dA/dlambda + (1-mu^2) dB/dmu] and of
  !! (1/(a(1-mu^2))) [dB/dlambda - (1-mu^2) dA/dmu] with the mu-derivative integrated by parts;
  !! Hoskins and Simmons 1975, Q. J. R. Meteorol. Soc. 101, 637, eqs. 4.5-4.6), summed over mirror
  !! pairs of latitudes as in legendre_analysis (H_n^m has the parity opposite to P_n^m's).
  subroutine legendre_analysis_vector(leg, m, fa, fb, curl, div)
    type(legendre_t), intent(in) :: leg
    integer, intent(in) :: m
    complex(r8), intent(in) :: fa(:, 0:, :), fb(:, 0:, :)
    complex(r8), intent(inout) :: curl(:, :), div(:, :)
    complex(r8), dimension(size(fa, 1), leg%nlat/2) :: as, aa, bs, ba
    complex(r8) :: im
    real(r8) :: wp, wh
    integer :: i, j, nh, mirror
    im = cmplx(0.0_r8, real(m, r8), r8)
    nh = leg%nlat/2
    do j = 1, nh
      mirror = leg%nlat + 1 - j
      as(:, j) = fa(:, m, j) + fa(:, m, mirror)
      aa(:, j) = fa(:, m, j) - fa(:, m, mirror)
      bs(:, j) = fb(:, m, j) + fb(:, m, mirror)
      ba(:, j) = fb(:, m, j) - fb(:, m, mirror)
    end do
    do i = leg%mstart(m), leg%mstart(m) + leg%ntr - m
      curl(:, i) = (0.0_r8, 0.0_r8)
      div(:, i) = (0.0_r8, 0.0_r8)
      do j = 1, nh
        wp = leg%w(j)/(1.0_r8 - leg%mu(j)**2)*leg%p(i, j)/rearth
        wh = leg%w(j)/(1.0_r8 - leg%mu(j)**2)*leg%h(i, j)/rearth
        if (mod(leg%n_of(i) - m, 2) == 0) then
          div(:, i) = div(:, i) + (im*wp)*as(:, j) - wh*ba(:, j)
          curl(:, i) = curl(:, i) + (im*wp)*bs(:, j) + wh*aa(:, j)
        else
          div(:, i) = div(:, i) + (im*wp)*aa(:, j) - wh*bs(:, j)
          curl(:, i) = curl(:, i) + (im*wp)*ba(:, j) + wh*as(:, j)
        end if
      end do
    end do
  end subroutine legendre_analysis_vector

  !> F(:, m, jj) for the latitudes lats(jj) and all m: sum_n P_n^m(mu) x(:, i) (kind 'p') or,
  !! with H_n^m, the (1-mu^2) mu-derivative (kind 'h'); the lambda-derivative is i m times the
  !! first (dyn_spectral_transform).
  subroutine legendre_synthesis(leg, lats, x, kind, f)
    type(legendre_t), intent(in) :: leg
    integer, intent(in) :: lats(:)
    complex(r8), intent(in) :: x(:, :)
    character, intent(in) :: kind
    complex(r8), intent(out) :: f(:, 0:, :)
    integer :: m, i, jj
    f = (0.0_r8, 0.0_r8)
    do m = 0, leg%ntr
      do i = leg%mstart(m), leg%mstart(m) + leg%ntr - m
        if (kind == 'h') then
          do jj = 1, size(lats)
            f(:, m, jj) = f(:, m, jj) + leg%h(i, lats(jj))*x(:, i)
          end do
        else
          do jj = 1, size(lats)
            f(:, m, jj) = f(:, m, jj) + leg%p(i, lats(jj))*x(:, i)
          end do
        end if
      end do
    end do
  end subroutine legendre_synthesis

  !> Fourier coefficients of U = u cos(lat) and V = v cos(lat) from vorticity and divergence,
  !! through the streamfunction psi = zeta/lap and velocity potential chi = D/lap:
  !!   U = (1/a) [ dchi/dlambda - (1-mu^2) dpsi/dmu ],  V = (1/a) [ dpsi/dlambda + (1-mu^2) dchi/dmu ]
  !! (Hoskins and Simmons 1975, eq. 4.3).
  subroutine legendre_synthesis_winds(leg, lats, vor, div, fu, fv)
    type(legendre_t), intent(in) :: leg
    integer, intent(in) :: lats(:)
    complex(r8), intent(in) :: vor(:, :), div(:, :)
    complex(r8), intent(out) :: fu(:, 0:, :), fv(:, 0:, :)
    complex(r8) :: psi(size(vor, 1)), chi(size(vor, 1)), im
    integer :: m, i, jj
    fu = (0.0_r8, 0.0_r8)
    fv = (0.0_r8, 0.0_r8)
    do m = 0, leg%ntr
      im = cmplx(0.0_r8, real(m, r8), r8)
      do i = leg%mstart(m), leg%mstart(m) + leg%ntr - m
        psi = (leg%inv_lap(i)/rearth)*vor(:, i)
        chi = (leg%inv_lap(i)/rearth)*div(:, i)
        do jj = 1, size(lats)
          fu(:, m, jj) = fu(:, m, jj) + (im*leg%p(i, lats(jj)))*chi - leg%h(i, lats(jj))*psi
          fv(:, m, jj) = fv(:, m, jj) + (im*leg%p(i, lats(jj)))*psi + leg%h(i, lats(jj))*chi
        end do
      end do
    end do
  end subroutine legendre_synthesis_winds
end module dyn_legendre
