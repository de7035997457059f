!> The E3SM no-leap (365-day) calendar: model time is counted in whole seconds since
!! 0001-01-01 00:00:00 so that dates and restarts are exact integers.
module host_calendar
  use, intrinsic :: iso_fortran_env, only: int64
  use host_constants, only: r8, pi, days_per_year
  implicit none (type, external)
  private
  public :: model_date, date_from_seconds, seconds_from_date, parse_date, valid_date, date_tag, &
            month_tag, day_of_year, declination, last_second

  !> The last year a run may reach: file names carry the year in four digits.
  integer, parameter, public :: last_year = 9999

  integer, parameter :: days_in_month(12) = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

  type, public :: model_date
    integer :: year = 1, month = 1, day = 1
    integer :: tod = 0            !< seconds of the day
  end type model_date

contains

  pure type(model_date) function date_from_seconds(seconds) result(d)
    integer(int64), intent(in) :: seconds
    integer(int64) :: days
    integer :: doy
    days = seconds/86400_int64
    d%tod = int(seconds - days*86400_int64)
    d%year = int(days/365_int64) + 1
    doy = int(days - int(d%year - 1, int64)*365_int64)   ! 0-based
    d%month = 1
    do while (doy >= days_in_month(d%month))
      doy = doy - days_in_month(d%month)
      d%month = d%month + 1
    end do
    d%day = doy + 1
  end function date_from_seconds

  pure integer(int64) function seconds_from_date(d)
    type(model_date), intent(in) :: d
    seconds_from_date = (int(d%year - 1, int64)*365_int64 + &
                         int(sum(days_in_month(1:d%month - 1)) + d%day - 1, int64))*86400_int64 &
                        + int(d%tod, int64)
  end function seconds_from_date

  !> A date of the no-leap calendar between 0001-01-01 and the end of last_year.
  pure logical function valid_date(d)
    type(model_date), intent(in) :: d
    valid_date = d%year >= 1 .and. d%year <= last_year .and. d%month >= 1 .and. d%month <= 12
    if (.not. valid_date) return
    valid_date = d%day >= 1 .and. d%day <= days_in_month(d%month) .and. d%tod >= 0 .and. d%tod < 86400
  end function valid_date

  !> Seconds from 0001-01-01 to the last second a run may reach (the end of last_year).
  pure integer(int64) function last_second()
    last_second = int(last_year, int64)*365_int64*86400_int64 - 1_int64
  end function last_second

  !> Parse 'YYYY-MM-DD'; ok is false for anything else or an impossible date.
  subroutine parse_date(text, d, ok)
    character(*), intent(in) :: text
    type(model_date), intent(out) :: d
    logical, intent(out) :: ok
    integer :: ios
    ok = .false.
    if (len_trim(text) /= 10) return
    if (text(5:5) /= '-' .or. text(8:8) /= '-') return
    read (text(1:4), '(i4)', iostat=ios) d%year
    if (ios /= 0) return
    read (text(6:7), '(i2)', iostat=ios) d%month
    if (ios /= 0) return
    read (text(9:10), '(i2)', iostat=ios) d%day
    if (ios /= 0) return
    d%tod = 0
    ok = valid_date(d)
  end subroutine parse_date

  !> ClimSim file-name time stamp 'YYYY-MM-DD-SSSSS'.
  pure character(16) function date_tag(d)
    type(model_date), intent(in) :: d
    write (date_tag, '(i4.4,"-",i2.2,"-",i2.2,"-",i5.5)') d%year, d%month, d%day, d%tod
  end function date_tag

  !> ClimSim folder name 'YYYY-MM'.
  pure character(7) function month_tag(d)
    type(model_date), intent(in) :: d
    write (month_tag, '(i4.4,"-",i2.2)') d%year, d%month
  end function month_tag

  !> Day of the year as a real number, 0 at 01-01 00:00.
  pure real(r8) function day_of_year(d)
    type(model_date), intent(in) :: d
    day_of_year = real(sum(days_in_month(1:d%month - 1)) + d%day - 1, r8) + real(d%tod, r8)/86400.0_r8
  end function day_of_year

  !> Solar declination [rad], circular orbit, equinox on day 80 (21 March); Hartmann (1994),
  !! Global Physical Climatology, ch. 2.
  pure real(r8) function declination(d)
    type(model_date), intent(in) :: d
    real(r8), parameter :: obliquity = 23.44_r8*pi/180.0_r8
    declination = obliquity*sin(2.0_r8*pi*(day_of_year(d) - 80.0_r8)/days_per_year)
  end function declination
end module host_calendar
