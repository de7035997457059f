!> The ClimSim low-resolution grid (ne4pg2, 384 columns, 60 hybrid levels), the column
!! decomposition over MPI ranks, and the column neighbours used by horizontal mixing.
module host_grid
  use host_constants, only: r8, ncol_global, nlev, pi
  use host_netcdf, only: nc_open_read, nc_read_1d, nc_read_scalar, nc_check
  use netcdf, only: nf90_close
  implicit none (type, external)
  private
  public :: grid_init, nneighbour

  integer, parameter :: nneighbour = 4   !< nearest columns a column mixes with

  type, public :: grid_t
    ! Global, identical on all ranks.
    real(r8) :: lat(ncol_global), lon(ncol_global)   !< [rad]
    real(r8) :: area(ncol_global)                    !< [sr] (sums to 4 pi)
    real(r8) :: ps0(ncol_global)                     !< surface pressure from the grid file [Pa]
    real(r8) :: hyam(nlev), hybm(nlev), hyai(nlev + 1), hybi(nlev + 1), p0
    integer :: neighbour(nneighbour, ncol_global)    !< nearest columns by great-circle distance
    real(r8) :: t_mean(nlev), q_mean(nlev)           !< ClimSim mean profiles (input_mean.nc)
    ! This rank's columns: global indices col_start .. col_start + ncol - 1.
    integer :: col_start = 1, ncol = 0
    integer, allocatable :: counts(:), displs(:)     !< columns per rank and offsets (for gathers)
  end type grid_t

contains

  !> Read the grid and the mean profiles, split ncol_global columns over nranks
  !! contiguous blocks (the first ranks get one column more when it does not divide).
  subroutine grid_init(grid, climsim_dir, rank, nranks)
    type(grid_t), intent(out) :: grid
    character(*), intent(in) :: climsim_dir
    integer, intent(in) :: rank, nranks
    character(:), allocatable :: fname
    integer :: ncid, r
    real(r8) :: deg2rad

    deg2rad = pi/180.0_r8
    fname = trim(climsim_dir)//'/ClimSim_low-res_grid-info.nc'
    ncid = nc_open_read(fname)
    call nc_read_1d(ncid, fname, 'lat', grid%lat, ncol_global)
    call nc_read_1d(ncid, fname, 'lon', grid%lon, ncol_global)
    call nc_read_1d(ncid, fname, 'area', grid%area, ncol_global)
    call nc_read_1d(ncid, fname, 'PS', grid%ps0, ncol_global)
    call nc_read_1d(ncid, fname, 'hyam', grid%hyam, nlev)
    call nc_read_1d(ncid, fname, 'hybm', grid%hybm, nlev)
    call nc_read_1d(ncid, fname, 'hyai', grid%hyai, nlev + 1)
    call nc_read_1d(ncid, fname, 'hybi', grid%hybi, nlev + 1)
    grid%p0 = nc_read_scalar(ncid, fname, 'P0')
    call nc_check(nf90_close(ncid), fname, 'close')
    grid%lat = grid%lat*deg2rad
    grid%lon = grid%lon*deg2rad

    fname = trim(climsim_dir)//'/input_mean.nc'
    ncid = nc_open_read(fname)
    call nc_read_1d(ncid, fname, 'state_t', grid%t_mean, nlev)
    call nc_read_1d(ncid, fname, 'state_q0001', grid%q_mean, nlev)
    call nc_check(nf90_close(ncid), fname, 'close')

    allocate (grid%counts(0:nranks - 1), grid%displs(0:nranks - 1))
    do r = 0, nranks - 1
      grid%displs(r) = (r*ncol_global)/nranks
      grid%counts(r) = ((r + 1)*ncol_global)/nranks - grid%displs(r)
    end do
    grid%col_start = grid%displs(rank) + 1
    grid%ncol = grid%counts(rank)

    call find_neighbours(grid)
  end subroutine grid_init

  !> For each column, the nneighbour nearest other columns by great-circle distance,
  !! ties broken by column index, so the result does not depend on the decomposition.
  subroutine find_neighbours(grid)
    type(grid_t), intent(inout) :: grid
    real(r8) :: dist(ncol_global), cosd
    integer :: i, j, n, best
    logical :: taken(ncol_global)
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
