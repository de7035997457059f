!> Prescribed boundary conditions: insolation with diurnal and seasonal cycles, and an
!! aquaplanet sea-surface temperature whose maximum follows the sun.
module boundary_data
  use host_calendar, only: model_date, declination
  use host_constants, only: r8, pi, solar_const, tmelt
  implicit none (type, external)
  private
  public :: set_insolation, set_sst

  !> Meridional shift of the SST maximum per radian of solar declination.
  real(r8), parameter :: sst_shift_per_declination = 0.25_r8

contains

  !> Insolation at the top of the model at the middle of the step, circular orbit:
  !! cos(zenith) = sin(lat) sin(dec) + cos(lat) cos(dec) cos(hour angle)
  !! (Hartmann 1994, Global Physical Climatology, eq. 2.15).
  subroutine set_insolation(d, lat, lon, coszrs, solin)
    type(model_date), intent(in) :: d          !< date at the middle of the step
    real(r8), intent(in) :: lat(:), lon(:)     !< [rad]
    real(r8), intent(out) :: coszrs(:), solin(:)
    real(r8) :: dec, hour_angle
    integer :: i
    dec = declination(d)
    do i = 1, size(lat)
      hour_angle = 2.0_r8*pi*real(d%tod, r8)/86400.0_r8 + lon(i) - pi
      coszrs(i) = sin(lat(i))*sin(dec) + cos(lat(i))*cos(dec)*cos(hour_angle)
      solin(i) = solar_const*max(coszrs(i), 0.0_r8)
    end do
  end subroutine set_insolation

  !> The 'Qobs' aquaplanet SST of Neale and Hoskins (2000, Atmos. Sci. Lett. 1, 101-107):
  !! T = 27 C * (1 - (sin^2(3 phi/2) + sin^4(3 phi/2))/2) for |phi| < 60 deg, 0 C poleward,
  !! with phi measured from a latitude that follows a quarter of the solar declination
  !! (our choice, to give the SST a seasonal cycle).
  subroutine set_sst(d, lat, sst)
    type(model_date), intent(in) :: d
    real(r8), intent(in) :: lat(:)
    real(r8), intent(out) :: sst(:)
    real(r8) :: phi, s
    integer :: i
    do i = 1, size(lat)
      phi = lat(i) - sst_shift_per_declination*declination(d)
      if (abs(phi) < pi/3.0_r8) then
        s = sin(1.5_r8*phi)**2
        sst(i) = tmelt + 27.0_r8*(1.0_r8 - 0.5_r8*(s + s*s))
      else
        sst(i) = tmelt
      end if
    end do
  end subroutine set_sst
end module boundary_data
