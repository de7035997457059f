!> The state of a lon-lat model: fields (lon, lat, lev), level 1 at the top, as most
!> dynamical cores keep them. 96 x 48 columns of 8 levels: 4,608 columns.
module lonlat_state
  use, intrinsic :: iso_fortran_env, only: real64
  implicit none (type, external)
  private
  public :: nlon, nlat, nlev, state_t, init_state

  integer, parameter :: nlon = 96, nlat = 48, nlev = 8

  type, public :: state_t
    real(real64) :: t(nlon, nlat, nlev)       !< temperature, K
    real(real64) :: q(nlon, nlat, nlev)       !< specific humidity, kg/kg
    real(real64) :: ps(nlon, nlat)            !< surface pressure, Pa
    real(real64) :: solin(nlon, nlat)         !< insolation at the top, W/m2
  end type state_t

contains

  !> A smooth, deterministic initial state: warm and moist at the equator and the surface.
  subroutine init_state(s)
    type(state_t), intent(out) :: s
    integer :: i, j, k
    real(real64) :: lat, lon

    do j = 1, nlat
      lat = -87.5_real64 + 175.0_real64 * real(j - 1, real64) / real(nlat - 1, real64)
      do i = 1, nlon
        lon = 360.0_real64 * real(i - 1, real64) / real(nlon, real64)
        s%ps(i, j) = 1.0e5_real64 - 500.0_real64 * sin(lat * 0.0349_real64)**2
        s%solin(i, j) = max(0.0_real64, 1361.0_real64 * cos(lat * 0.01745_real64) * cos(lon * 0.01745_real64))
        do k = 1, nlev
          s%t(i, j, k) = 210.0_real64 + 8.0_real64 * k + 25.0_real64 * cos(lat * 0.01745_real64)
          s%q(i, j, k) = 1.0e-3_real64 * k * cos(lat * 0.01745_real64)**2
        end do
      end do
    end do
  end subroutine init_state
end module lonlat_state
