!> The model grid and its decomposition over MPI ranks. Without dynamics: the ClimSim
!! low-resolution grid (ne4pg2, 384 columns, 60 hybrid levels) and the column neighbours used
!! by the horizontal mixing of the large-scale forcing. With the spectral core: the Gaussian
!! grid of its truncation, nlat rows of nlon columns, north to south, global column
!! (j-1)*nlon + i for row j and longitude i, on the ClimSim levels or every few of them.
!! Either way every rank owns one contiguous block of global columns (a block of rows on the
!! Gaussian grid).
module host_grid
  use dyn_vertical, only: vertical_t
  use host_constants, only: r8, ncol_global, nlev, pi
  use host_netcdf, only: nc_open_read, nc_read_1d, nc_read_scalar, nc_check
  use netcdf, only: nf90_close
  implicit none (type, external)
  private
  public :: grid_init, grid_init_gaussian, read_climsim_levels, nneighbour

  integer, parameter :: nneighbour = 4   !< nearest columns a column mixes with
  integer, parameter :: climsim_nlev = 60

  type, public :: grid_t
    ! Global, identical on all ranks.
    real(r8), allocatable :: lat(:), lon(:)        !< (ncol_global) [rad]
    real(r8), allocatable :: area(:)               !< (ncol_global) [sr] (sums to 4 pi)
    real(r8), allocatable :: ps0(:)                !< (ncol_global) initial surface pressure [Pa]
    real(r8), allocatable :: hyam(:), hybm(:), hyai(:), hybi(:)   !< (nlev), (nlev+1)
    real(r8) :: p0 = 1.0e5_r8
    integer, allocatable :: neighbour(:, :)        !< (nneighbour, ncol_global), ClimSim grid only
    real(r8), allocatable :: t_mean(:), q_mean(:)  !< (nlev) ClimSim mean profiles (input_mean.nc)
    integer :: nlat = 0, nlon = 0                  !< Gaussian grid only
    ! This rank's columns: global indices col_start .. col_start + ncol - 1.
    integer :: col_start = 1, ncol = 0
    integer, allocatable :: counts(:), displs(:)   !< columns per rank and offsets (for gathers)
  end type grid_t

contains

  !> The ClimSim grid and mean profiles; columns split into nranks contiguous blocks (the
  !! first ranks one column more when it does not divide).
  subroutine grid_init(grid, climsim_dir, rank, nranks)
    type(grid_t), intent(out) :: grid
    character(*), intent(in) :: climsim_dir
    integer, intent(in) :: rank, nranks
    character(:), allocatable :: fname
    integer :: ncid, r

    fname = trim(climsim_dir)//'/ClimSim_low-res_grid-info.nc'
    allocate (grid%lat(ncol_global), grid%lon(ncol_global), grid%area(ncol_global), grid%ps0(ncol_global))
    ncid = nc_open_read(fname)
    call nc_read_1d(ncid, fname, 'lat', grid%lat, ncol_global)
    call nc_read_1d(ncid, fname, 'lon', grid%lon, ncol_global)
    call nc_read_1d(ncid, fname, 'area', grid%area, ncol_global)
    call nc_read_1d(ncid, fname, 'PS', grid%ps0, ncol_global)
    call nc_check(nf90_close(ncid), fname, 'close')
    grid%lat = grid%lat*(pi/180.0_r8)
    grid%lon = grid%lon*(pi/180.0_r8)
    call read_climsim_levels(climsim_dir, grid%hyai, grid%hybi, grid%p0)
    grid%hyam = 0.5_r8*(grid%hyai(1:nlev) + grid%hyai(2:nlev + 1))
    grid%hybm = 0.5_r8*(grid%hybi(1:nlev) + grid%hybi(2:nlev + 1))
    call read_mean_profiles(climsim_dir, grid)

    allocate (grid%counts(0:nranks - 1), grid%displs(0:nranks - 1))
    do r = 0, nranks - 1
      grid%displs(r) = (r*ncol_global)/nranks
      grid%counts(r) = ((r + 1)*ncol_global)/nranks - grid%displs(r)
    end do
    grid%col_start = grid%displs(rank) + 1
    grid%ncol = grid%counts(rank)
    call find_neighbours(grid)
  end subroutine grid_init

  !> The Gaussian grid of nlat rows (mu = sin(lat) north to south, Gaussian weights w) and nlon
  !! longitudes on the levels of vert; rows split as the spectral transform splits them.
  subroutine grid_init_gaussian(grid, climsim_dir, rank, nranks, mu, w, nlon, vert)
    type(grid_t), intent(out) :: grid
    character(*), intent(in) :: climsim_dir
    integer, intent(in) :: rank, nranks, nlon
    real(r8), intent(in) :: mu(:), w(:)
    type(vertical_t), intent(in) :: vert
    integer :: r, j, i, c
    grid%nlat = size(mu)
    grid%nlon = nlon
    allocate (grid%lat(ncol_global), grid%lon(ncol_global), grid%area(ncol_global), grid%ps0(ncol_global))
    do j = 1, grid%nlat
      do i = 1, nlon
        c = (j - 1)*nlon + i
        grid%lat(c) = asin(mu(j))
        grid%lon(c) = 2.0_r8*pi*real(i - 1, r8)/real(nlon, r8)
        grid%area(c) = w(j)*2.0_r8*pi/real(nlon, r8)
      end do
    end do
    grid%ps0 = grid%p0
    grid%hyai = vert%hyai
    grid%hybi = vert%hybi
    grid%hyam = vert%hyam
    grid%hybm = vert%hybm
    call read_mean_profiles(climsim_dir, grid)
    allocate (grid%counts(0:nranks - 1), grid%displs(0:nranks - 1))
    do r = 0, nranks - 1
      grid%displs(r) = ((r*grid%nlat)/nranks)*nlon
      grid%counts(r) = (((r + 1)*grid%nlat)/nranks)*nlon - grid%displs(r)
    end do
    grid%col_start = grid%displs(rank) + 1
    grid%ncol = grid%counts(rank)
  end subroutine grid_init_gaussian

  !> The ClimSim interface coefficients (61 values, top first) and P0.
  subroutine read_climsim_levels(climsim_dir, hyai, hybi, p0)
    character(*), intent(in) :: climsim_dir
    real(r8), allocatable, intent(out) :: hyai(:), hybi(:)
    real(r8), intent(out) :: p0
    character(:), allocatable :: fname
    integer :: ncid
    fname = trim(climsim_dir)//'/ClimSim_low-res_grid-info.nc'
    allocate (hyai(climsim_nlev + 1), hybi(climsim_nlev + 1))
    ncid = nc_open_read(fname)
    call nc_read_1d(ncid, fname, 'hyai', hyai, climsim_nlev + 1)
    call nc_read_1d(ncid, fname, 'hybi', hybi, climsim_nlev + 1)
    p0 = nc_read_scalar(ncid, fname, 'P0')
    call nc_check(nf90_close(ncid), fname, 'close')
  end subroutine read_climsim_levels

  !> The ClimSim global-mean T and q profiles of input_mean.nc on the grid's levels: as they
  !! are on the 60 ClimSim levels, interpolated linearly in ln p (at ps = P0) on fewer levels.
  subroutine read_mean_profiles(climsim_dir, grid)
    character(*), intent(in) :: climsim_dir
    type(grid_t), intent(inout) :: grid
    character(:), allocatable :: fname
    real(r8) :: t60(climsim_nlev), q60(climsim_nlev), hyai60(climsim_nlev + 1), hybi60(climsim_nlev + 1)
    real(r8) :: lnp60(climsim_nlev), lnp, wgt
    real(r8), allocatable :: ai(:), bi(:)
    real(r8) :: p0
    integer :: ncid, k, kk
    fname = trim(climsim_dir)//'/input_mean.nc'
    ncid = nc_open_read(fname)
    call nc_read_1d(ncid, fname, 'state_t', t60, climsim_nlev)
    call nc_read_1d(ncid, fname, 'state_q0001', q60, climsim_nlev)
    call nc_check(nf90_close(ncid), fname, 'close')
    allocate (grid%t_mean(nlev), grid%q_mean(nlev))
    if (nlev == climsim_nlev) then
      grid%t_mean = t60
      grid%q_mean = q60
      return
    end if
    call read_climsim_levels(climsim_dir, ai, bi, p0)
    hyai60 = ai
    hybi60 = bi
    lnp60 = log(0.5_r8*((hyai60(1:climsim_nlev) + hyai60(2:climsim_nlev + 1))*p0 &
                        + (hybi60(1:climsim_nlev) + hybi60(2:climsim_nlev + 1))*p0))
    do k = 1, nlev
      lnp = log(grid%hyam(k)*grid%p0 + grid%hybm(k)*grid%p0)
      kk = max(1, min(climsim_nlev - 1, count(lnp60 <= lnp)))
      wgt = max(0.0_r8, min(1.0_r8, (lnp - lnp60(kk))/(lnp60(kk + 1) - lnp60(kk))))
      grid%t_mean(k) = (1.0_r8 - wgt)*t60(kk) + wgt*t60(kk + 1)
      grid%q_mean(k) = (1.0_r8 - wgt)*q60(kk) + wgt*q60(kk + 1)
    end do
  end subroutine read_mean_profiles

  !> For each column, the nneighbour nearest other columns by great-circle distance,
  !! ties broken by column index, so the result does not depend on the decomposition.
  subroutine find_neighbours(grid)
    type(grid_t), intent(inout) :: grid
    real(r8) :: dist(ncol_global), cosd
    integer :: i, j, n, best
    logical :: taken(ncol_global)
    allocate (grid%neighbour(nneighbour, ncol_global))
    do i = 1, ncol_global
      do j = 1, ncol_global
        cosd = sin(grid%lat(i))*sin(grid%lat(j)) + &
               cos(grid%lat(i))*cos(grid%lat(j))*cos(grid%lon(i) - grid%lon(j))
        dist(j) = acos(max(-1.0_r8, min(1.0_r8, cosd)))
      end do
      taken = .false.
      taken(i) = .true.
      do n = 1, nneighbour
        best = 0
        do j = 1, ncol_global
          if (taken(j)) cycle
          if (best == 0) then
            best = j
          else if (dist(j) < dist(best)) then
            best = j
          end if
        end do
        taken(best) = .true.
        grid%neighbour(n, i) = best
      end do
    end do
  end subroutine find_neighbours
end module host_grid
