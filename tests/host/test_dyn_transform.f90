!> The spectral transform of the dynamical core (fortran/host/dyn_*.f90) on the T21 grid:
!!  1. Gaussian weights sum to 2 and the latitudes are symmetric;
!!  2. grid -> spectral -> grid reproduces a band-limited field (to 1e-12);
!!  3. the lambda- and mu-derivatives of Y_1^1 = cos(lat) cos(lon) are the analytic ones;
!!  4. solid-body rotation u = u0 cos(lat): curl gives zeta = 2 u0 sin(lat)/a, divergence 0,
!!     and the winds synthesized back from that zeta are u0 cos(lat), 0;
!!  5. the distributed analysis of a nonlinear field equals, bit for bit, a serial analysis on
!!     rank 0 over all latitudes (the PEM property of the transform);
!!  6. the round trip on the T31 and T63 grids (FFT lengths with a factor 3: 96 and 192).
!! Run on 1 and 3 ranks by ctest. Prints 'PASS' on rank 0 when every check holds.
program test_dyn_transform
  use, intrinsic :: iso_fortran_env, only: error_unit
  use dyn_fft, only: fft_analysis
  use dyn_legendre, only: legendre_analysis
  use dyn_spectral_transform, only: transform_t, transform_init, grid_to_spectral, spectral_allgather, &
    spectral_to_grid, spectral_to_winds
  use host_constants, only: r8, pi, rearth
  use mpi_f08, only: MPI_Allgatherv, MPI_Allreduce, MPI_Comm_rank, MPI_COMM_WORLD, MPI_DOUBLE_PRECISION, &
    MPI_Finalize, MPI_Init, MPI_LOR, MPI_LOGICAL
  implicit none (type, external)

  integer, parameter :: ntr = 21, nlat = 32, nlon = 64
  type(transform_t) :: tr
  real(r8), allocatable :: g(:, :, :), g2(:, :, :), gl(:, :, :), gm(:, :, :), u(:, :, :), v(:, :, :), zero(:, :, :)
  complex(r8), allocatable :: x(:, :), y(:, :), curl(:, :), div(:, :)
  real(r8) :: lam, mu, err, u0
  integer :: rank, i, jj, j, m, n, idx
  logical :: ok, failed, any_failed

  call MPI_Init()
  call MPI_Comm_rank(MPI_COMM_WORLD, rank)
  failed = .false.
  call transform_init(tr, ntr, nlat, nlon, MPI_COMM_WORLD, ok)
  call check(ok, 'transform_init')

  ! 1. Gaussian latitudes.
  call check(abs(sum(tr%leg%w) - 2.0_r8) < 1.0e-13_r8, 'Gaussian weights sum to 2')
  call check(maxval(abs(tr%leg%mu + tr%leg%mu(nlat:1:-1))) < 1.0e-14_r8, 'latitudes symmetric')

  ! 2. Round trip of a band-limited field with pseudo-random coefficients.
  allocate (x(2, tr%nspec), y(2, tr%nspec), g(2, nlon, tr%nlat_own))
  do idx = 1, tr%nspec
    m = tr%leg%m_of(idx)
    n = tr%leg%n_of(idx)
    x(1, idx) = cmplx(sin(1.3_r8*idx), merge(0.0_r8, cos(0.7_r8*idx), m == 0), r8)
    x(2, idx) = cmplx(real(n - m, r8)/ntr, merge(0.0_r8, real(m, r8)/ntr, m == 0), r8)
  end do
  call spectral_to_grid(tr, x, g)
  y = 0
  call grid_to_spectral(tr, g, y)
  err = 0
  do i = 1, size(tr%my_m)
    m = tr%my_m(i)
    do idx = tr%leg%mstart(m), tr%leg%mstart(m) + ntr - m
      err = max(err, maxval(abs(y(:, idx) - x(:, idx))))
    end do
  end do
  call check(err < 1.0e-12_r8, 'grid -> spectral -> grid round trip')

  ! 3. Derivatives of Y_1^1 ~ cos(lat) cos(lon), synthesized from its analysis.
  deallocate (g)
  allocate (g(1, nlon, tr%nlat_own), g2(1, nlon, tr%nlat_own), gl(1, nlon, tr%nlat_own), gm(1, nlon, tr%nlat_own))
  do jj = 1, tr%nlat_own
    mu = tr%leg%mu(tr%lats(jj))
    do i = 1, nlon
      lam = 2.0_r8*pi*(i - 1)/nlon
      g(1, i, jj) = sqrt(1.0_r8 - mu**2)*cos(lam)
    end do
  end do
  deallocate (x)
  allocate (x(1, tr%nspec))
  x = 0
  call grid_to_spectral(tr, g, x)
  call spectral_allgather(tr, x)
  call spectral_to_grid(tr, x, g2, gl, gm)
  err = 0
  do jj = 1, tr%nlat_own
    mu = tr%leg%mu(tr%lats(jj))
    do i = 1, nlon
      lam = 2.0_r8*pi*(i - 1)/nlon
      err = max(err, abs(g2(1, i, jj) - g(1, i, jj)), abs(gl(1, i, jj) + sqrt(1.0_r8 - mu**2)*sin(lam)), &
                abs(gm(1, i, jj) + mu*sqrt(1.0_r8 - mu**2)*cos(lam)))
    end do
  end do
  call check(err < 1.0e-12_r8, 'lambda- and mu-derivatives of Y_1^1')

  ! 4. Solid-body rotation: U = u0 cos^2(lat), V = 0.
  u0 = 20.0_r8
  allocate (u(1, nlon, tr%nlat_own), v(1, nlon, tr%nlat_own), zero(0, nlon, tr%nlat_own), curl(1, tr%nspec), &
            div(1, tr%nspec))
  do jj = 1, tr%nlat_own
    u(1, :, jj) = u0*(1.0_r8 - tr%leg%mu(tr%lats(jj))**2)
  end do
  v = 0
  deallocate (x)
  allocate (x(0, tr%nspec))
  curl = 0
  div = 0
  call grid_to_spectral(tr, zero, x, u, v, curl, div)
  call spectral_allgather(tr, curl)
  call spectral_allgather(tr, div)
  ! zeta = 2 u0 mu/a = (2 u0/a) P_1^0/sqrt(3/2)
  idx = tr%leg%mstart(0) + 1
  err = abs(curl(1, idx) - 2.0_r8*u0/rearth/sqrt(1.5_r8))
  curl(1, idx) = 0
  err = max(err, maxval(abs(curl)), maxval(abs(div)))*rearth/u0
  call check(err < 1.0e-12_r8, 'curl and divergence of solid-body rotation')
  curl(1, idx) = 2.0_r8*u0/rearth/sqrt(1.5_r8)
  call spectral_to_winds(tr, curl, div, g, g2)
  err = max(maxval(abs(g - u)), maxval(abs(g2)))/u0
  call check(err < 1.0e-12_r8, 'winds of solid-body rotation')

  ! 5. Distributed analysis of a nonlinear field vs a serial analysis on rank 0.
  call decomposition_check()

  ! 6. Other truncations, with radix-3 FFT stages.
  call round_trip(31, 48, 96)
  call round_trip(63, 96, 192)

  call MPI_Allreduce(failed, any_failed, 1, MPI_LOGICAL, MPI_LOR, MPI_COMM_WORLD)
  if (rank == 0 .and. .not. any_failed) write (*, '(a)') 'PASS'
  call MPI_Finalize()
  if (any_failed) error stop 1

contains

  !> grid -> spectral -> grid reproduces a band-limited field on the T<nt> grid.
  subroutine round_trip(nt, nla, nlo)
    integer, intent(in) :: nt, nla, nlo
    type(transform_t) :: t2
    complex(r8), allocatable :: c(:, :), c2(:, :)
    real(r8), allocatable :: gg(:, :, :)
    character(32) :: what
    integer :: mm
    call transform_init(t2, nt, nla, nlo, MPI_COMM_WORLD, ok)
    allocate (c(1, t2%nspec), c2(1, t2%nspec), gg(1, nlo, t2%nlat_own))
    do idx = 1, t2%nspec
      c(1, idx) = cmplx(cos(0.3_r8*idx), merge(0.0_r8, sin(0.9_r8*idx), t2%leg%m_of(idx) == 0), r8)
    end do
    call spectral_to_grid(t2, c, gg)
    c2 = 0
    call grid_to_spectral(t2, gg, c2)
    err = 0
    do i = 1, size(t2%my_m)
      mm = t2%my_m(i)
      err = max(err, maxval(abs(c2(1, t2%leg%mstart(mm):t2%leg%mstart(mm) + nt - mm) - &
                                c(1, t2%leg%mstart(mm):t2%leg%mstart(mm) + nt - mm))))
    end do
    write (what, '("T",i0," round trip")') nt
    call check(ok .and. err < 1.0e-11_r8, trim(what))
  end subroutine round_trip

  subroutine check(cond, what)
    logical, intent(in) :: cond
    character(*), intent(in) :: what
    if (cond) return
    write (error_unit, '("test_dyn_transform: rank ",i0,": FAILED: ",a)') rank, what
    failed = .true.
  end subroutine check

  !> f = (sin(3 lat) + cos(2 lon) cos(lat))^2 + lon-dependent terms on every rank's rows,
  !! analysed by the distributed transform; rank 0 also gathers the whole grid, Fourier
  !! transforms every row and sums the Legendre transform for every m itself.
  subroutine decomposition_check()
    real(r8), allocatable :: own(:, :, :), whole(:, :, :)
    complex(r8), allocatable :: dist(:, :), serial(:, :), f(:, :, :)
    integer, allocatable :: counts(:), displs(:)
    integer :: r, jg
    allocate (own(3, nlon, tr%nlat_own), whole(3, nlon, nlat), dist(3, tr%nspec), serial(3, tr%nspec), &
              f(3, 0:ntr, nlat))
    do jj = 1, tr%nlat_own
      jg = tr%lats(jj)
      mu = tr%leg%mu(jg)
      do i = 1, nlon
        lam = 2.0_r8*pi*(i - 1)/nlon
        own(1, i, jj) = (sin(3.0_r8*asin(mu)) + cos(2.0_r8*lam)*sqrt(1.0_r8 - mu**2))**2
        own(2, i, jj) = exp(mu*cos(lam))
        own(3, i, jj) = 1.0_r8/(2.0_r8 + sin(5.0_r8*lam + mu))
      end do
    end do
    dist = 0
    call grid_to_spectral(tr, own, dist)
    call spectral_allgather(tr, dist)
    allocate (counts(0:tr%nranks - 1), displs(0:tr%nranks - 1))
    counts = 3*nlon*tr%lat_counts
    displs(0) = 0
    do r = 1, tr%nranks - 1
      displs(r) = displs(r - 1) + counts(r - 1)
    end do
    call MPI_Allgatherv(own, size(own), MPI_DOUBLE_PRECISION, whole, counts, displs, MPI_DOUBLE_PRECISION, &
                        MPI_COMM_WORLD)
    if (rank /= 0) return
    do j = 1, nlat
      call fft_analysis(tr%fft, whole(:, :, j), f(:, :, j))
    end do
    serial = 0
    do m = 0, ntr
      call legendre_analysis(tr%leg, m, f, serial)
    end do
    call check(all(transfer(dist, [0_r8]) == transfer(serial, [0_r8])), &
               'distributed analysis bit-identical to the serial one')
  end subroutine decomposition_check
end program test_dyn_transform
