!> The Gaussian grid of a triangular spectral truncation TN: nlat Gaussian latitudes (the
!! roots of the Legendre polynomial P_nlat(mu), mu = sin(latitude)) and nlon equally spaced
!! longitudes, with nlat >= (3N+1)/2 and nlon >= 3N+1 so that quadratic terms are transformed
!! without aliasing (Orszag 1970, J. Atmos. Sci. 27, 890; Machenhauer 1979, GARP Publ. Ser. 17,
!! ch. 3). nlon also has to factor into 2, 3 and 5 for the FFT (dyn_fft).
module dyn_gaussian_grid
  use host_constants, only: r8, pi
  implicit none (type, external)
  private
  public :: truncation_grid, gaussian_latitudes, known_truncations

  !> Truncations the core takes, with the grids used by CCM/CAM and ECMWF for them.
  integer, parameter :: ntrunc = 5
  integer, parameter :: trunc_n(ntrunc) = [21, 31, 42, 63, 85]
  integer, parameter :: trunc_nlat(ntrunc) = [32, 48, 64, 96, 128]
  integer, parameter :: trunc_nlon(ntrunc) = [64, 96, 128, 192, 256]

contains

  !> 'T21 T31 T42 T63 T85', for messages.
  function known_truncations() result(text)
    character(:), allocatable :: text
    character(8) :: buf
    integer :: i
    text = ''
    do i = 1, ntrunc
      write (buf, '("T",i0)') trunc_n(i)
      if (i > 1) text = text//' '
      text = text//trim(buf)
    end do
  end function known_truncations

  !> Grid of truncation 'T<N>': ok = .false. when the core does not know it.
  subroutine truncation_grid(name, ntr, nlat, nlon, ok)
    character(*), intent(in) :: name
    integer, intent(out) :: ntr, nlat, nlon
    logical, intent(out) :: ok
    integer :: i, ios
    ok = .false.
    ntr = 0
    nlat = 0
    nlon = 0
    if (len_trim(name) < 2 .or. len_trim(name) > 4) return
    if (name(1:1) /= 'T' .or. verify(trim(name(2:)), '0123456789') /= 0) return
    read (name(2:), *, iostat=ios) ntr
    if (ios /= 0) return
    do i = 1, ntrunc
      if (trunc_n(i) /= ntr) cycle
      nlat = trunc_nlat(i)
      nlon = trunc_nlon(i)
      ok = .true.
    end do
  end subroutine truncation_grid

  !> mu(j) = sin(latitude), north to south, and the Gaussian weights w(j) (sum 2): Newton's
  !! method on P_nlat from the asymptotic first guess cos(pi (j - 1/4)/(nlat + 1/2))
  !! (Abramowitz and Stegun 1964, 22.16.6 and 25.4.29).
  subroutine gaussian_latitudes(nlat, mu, w)
    integer, intent(in) :: nlat
    real(r8), intent(out) :: mu(nlat), w(nlat)
    real(r8) :: x, p0, p1, p2, dp, dx
    integer :: j, k, iter
    do j = 1, nlat
      x = cos(pi*(real(j, r8) - 0.25_r8)/(real(nlat, r8) + 0.5_r8))
      do iter = 1, 100
        ! P_nlat(x) by the three-term recurrence; dp = P'_nlat(x).
        p0 = 1.0_r8
        p1 = x
        do k = 2, nlat
          p2 = (real(2*k - 1, r8)*x*p1 - real(k - 1, r8)*p0)/real(k, r8)
          p0 = p1
          p1 = p2
        end do
        dp = real(nlat, r8)*(x*p1 - p0)/(x*x - 1.0_r8)
        dx = p1/dp
        x = x - dx
        if (abs(dx) < 1.0e-15_r8) exit
      end do
      mu(j) = x
      w(j) = 2.0_r8/((1.0_r8 - x*x)*dp*dp)
    end do
  end subroutine gaussian_latitudes
end module dyn_gaussian_grid
