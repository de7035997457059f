!> The spectral transform over MPI ranks. Grid space is split by latitude rows (each rank a
!! contiguous band, north to south), spectral space by zonal wavenumber m (each rank a
!! balanced set of m). Grid to spectral: each rank Fourier-transforms its rows, the Fourier
!! coefficients of all rows are gathered on every rank (MPI_Allgatherv), and each rank sums
!! the Legendre transform for its own m over all latitudes in one fixed order. Spectral to
!! grid: the coefficients of all m are gathered (spectral_allgather) and each rank synthesizes
!! its own rows. No sum ever depends on the decomposition, so 1, 2, 3 or 4 ranks give the same
!! bits (the PEM property of CIME's tests).
module dyn_spectral_transform
  use dyn_fft, only: fft_plan, fft_plan_init, fft_analysis, fft_synthesis
  use dyn_legendre, only: legendre_t, legendre_init, legendre_analysis, legendre_analysis_vector, &
    legendre_synthesis, legendre_synthesis_winds
  use host_constants, only: r8
  use mpi_f08, only: MPI_Allgatherv, MPI_Comm, MPI_Comm_rank, MPI_Comm_size, MPI_DOUBLE_COMPLEX, &
    MPI_DOUBLE_PRECISION
  implicit none (type, external)
  private
  public :: transform_init, grid_to_spectral, spectral_allgather, spectral_to_grid, spectral_to_winds, &
            row_allgather

  type, public :: transform_t
    type(legendre_t) :: leg
    type(fft_plan) :: fft
    integer :: ntr = 0, nlat = 0, nlon = 0, nspec = 0
    type(MPI_Comm) :: comm
    integer :: rank = 0, nranks = 1
    integer :: lat_first = 1, nlat_own = 0       !< this rank's rows lat_first .. lat_first+nlat_own-1
    integer, allocatable :: lat_counts(:)       !< (0:nranks-1) rows per rank
    integer, allocatable :: lats(:)             !< (nlat_own) this rank's rows
    integer, allocatable :: m_owner(:)          !< (0:ntr) rank that owns each m
    integer, allocatable :: my_m(:)             !< the m this rank owns
  end type transform_t

contains

  !> ok = .false. (and nothing else set) when nlon cannot be Fourier-transformed or there are
  !! more ranks than latitude rows.
  subroutine transform_init(tr, ntr, nlat, nlon, comm, ok)
    type(transform_t), intent(out) :: tr
    integer, intent(in) :: ntr, nlat, nlon
    type(MPI_Comm), intent(in) :: comm
    logical, intent(out) :: ok
    integer :: r, m, k
    call fft_plan_init(tr%fft, nlon, ok)
    if (.not. ok) return
    call MPI_Comm_rank(comm, tr%rank)
    call MPI_Comm_size(comm, tr%nranks)
    ok = tr%nranks <= nlat
    if (.not. ok) return
    tr%comm = comm
    tr%ntr = ntr
    tr%nlat = nlat
    tr%nlon = nlon
    call legendre_init(tr%leg, ntr, nlat)
    tr%nspec = tr%leg%nspec
    ! Rows: contiguous blocks, the first ranks one row more when nlat does not divide.
    allocate (tr%lat_counts(0:tr%nranks - 1))
    do r = 0, tr%nranks - 1
      tr%lat_counts(r) = ((r + 1)*nlat)/tr%nranks - (r*nlat)/tr%nranks
    end do
    tr%lat_first = (tr%rank*nlat)/tr%nranks + 1
    tr%nlat_own = tr%lat_counts(tr%rank)
    tr%lats = [(tr%lat_first + k - 1, k=1, tr%nlat_own)]
    ! Wavenumbers: order m has ntr+1-m coefficients; dealing them out back and forth
    ! (0..R-1, R-1..0, ...) balances the work.
    allocate (tr%m_owner(0:ntr))
    do m = 0, ntr
      k = mod(m, 2*tr%nranks)
      tr%m_owner(m) = merge(k, 2*tr%nranks - 1 - k, k < tr%nranks)
    end do
    tr%my_m = pack([(m, m=0, ntr)], tr%m_owner == tr%rank)
  end subroutine transform_init

  !> Collective. Scalars g(nks, nlon, nlat_own) to xs(nks, nspec), and the vector with
  !! cos(lat)-weighted components (a, b)(nkv, nlon, nlat_own) to its curl and divergence
  !! (nkv, nspec): one gather for all. Only this rank's m are set in the outputs.
  subroutine grid_to_spectral(tr, g, xs, a, b, curl, div)
    type(transform_t), intent(in) :: tr
    real(r8), intent(in) :: g(:, :, :)
    complex(r8), intent(inout) :: xs(:, :)
    real(r8), intent(in), optional :: a(:, :, :), b(:, :, :)
    complex(r8), intent(inout), optional :: curl(:, :), div(:, :)
    complex(r8), allocatable :: f_own(:, :, :), f_all(:, :, :)
    real(r8), allocatable :: lines(:, :)
    integer :: nks, nkv, nk, jj, mi
    nks = size(g, 1)
    nkv = 0
    if (present(a)) nkv = size(a, 1)
    nk = nks + 2*nkv
    allocate (f_own(nk, 0:tr%ntr, tr%nlat_own), f_all(nk, 0:tr%ntr, tr%nlat), lines(nk, tr%nlon))
    ! Row by row: a row's lines fit in cache through all the FFT's stages.
    do jj = 1, tr%nlat_own
      lines(1:nks, :) = g(:, :, jj)
      if (nkv > 0) then
        lines(nks + 1:nks + nkv, :) = a(:, :, jj)
        lines(nks + nkv + 1:nk, :) = b(:, :, jj)
      end if
      call fft_analysis(tr%fft, lines, f_own(:, :, jj))
    end do
    call MPI_Allgatherv(f_own, size(f_own), MPI_DOUBLE_COMPLEX, f_all, nk*(tr%ntr + 1)*tr%lat_counts, &
                        nk*(tr%ntr + 1)*displacements(tr%lat_counts), MPI_DOUBLE_COMPLEX, tr%comm)
    do mi = 1, size(tr%my_m)
      if (nks > 0) call legendre_analysis(tr%leg, tr%my_m(mi), f_all(1:nks, :, :), xs)
      if (nkv > 0) call legendre_analysis_vector(tr%leg, tr%my_m(mi), f_all(nks + 1:nks + nkv, :, :), &
                                                 f_all(nks + nkv + 1:nk, :, :), curl, div)
    end do
  end subroutine grid_to_spectral

  !> Collective: every rank's own m of x(nk, nspec) to all ranks.
  subroutine spectral_allgather(tr, x)
    type(transform_t), intent(in) :: tr
    complex(r8), intent(inout) :: x(:, :)
    complex(r8), allocatable :: send(:, :), recv(:, :)
    integer, allocatable :: counts(:)
    integer :: r, m, n0, len, pos, nk
    nk = size(x, 1)
    ! Coefficients grouped by owner, each owner's m ascending.
    allocate (counts(0:tr%nranks - 1))
    counts = 0
    do m = 0, tr%ntr
      counts(tr%m_owner(m)) = counts(tr%m_owner(m)) + (tr%ntr + 1 - m)
    end do
    allocate (send(nk, counts(tr%rank)), recv(nk, tr%nspec))
    pos = 0
    do m = 0, tr%ntr
      if (tr%m_owner(m) /= tr%rank) cycle
      n0 = tr%leg%mstart(m)
      len = tr%ntr + 1 - m
      send(:, pos + 1:pos + len) = x(:, n0:n0 + len - 1)
      pos = pos + len
    end do
    call MPI_Allgatherv(send, size(send), MPI_DOUBLE_COMPLEX, recv, nk*counts, nk*displacements(counts), &
                        MPI_DOUBLE_COMPLEX, tr%comm)
    do r = 0, tr%nranks - 1
      pos = sum(counts(0:r - 1))
      do m = 0, tr%ntr
        if (tr%m_owner(m) /= r) cycle
        n0 = tr%leg%mstart(m)
        len = tr%ntr + 1 - m
        x(:, n0:n0 + len - 1) = recv(:, pos + 1:pos + len)
        pos = pos + len
      end do
    end do
  end subroutine spectral_allgather

  !> This rank's rows of the field x(nk, nspec) (all m present): g(nk, nlon, nlat_own), and
  !! optionally its lambda-derivative and (1-mu^2) times its mu-derivative.
  subroutine spectral_to_grid(tr, x, g, g_lambda, g_mu)
    type(transform_t), intent(in) :: tr
    complex(r8), intent(in) :: x(:, :)
    real(r8), intent(out) :: g(:, :, :)
    real(r8), intent(out), optional :: g_lambda(:, :, :), g_mu(:, :, :)
    complex(r8), allocatable :: f(:, :, :)
    integer :: m
    allocate (f(size(x, 1), 0:tr%ntr, tr%nlat_own))
    call legendre_synthesis(tr%leg, tr%lats, x, 'p', f)
    call to_rows(f, g)
    if (present(g_lambda)) then
      ! d/dlambda of exp(i m lambda) is i m times it: the same Legendre sums, scaled.
      do m = 0, tr%ntr
        f(:, m, :) = cmplx(0.0_r8, real(m, r8), r8)*f(:, m, :)
      end do
      call to_rows(f, g_lambda)
    end if
    if (present(g_mu)) then
      call legendre_synthesis(tr%leg, tr%lats, x, 'h', f)
      call to_rows(f, g_mu)
    end if

  contains

    subroutine to_rows(fc, rows)
      complex(r8), intent(in) :: fc(:, 0:, :)
      real(r8), intent(out) :: rows(:, :, :)
      call rows_from_fourier(tr, fc, rows)
    end subroutine to_rows
  end subroutine spectral_to_grid

  !> U = u cos(lat) and V = v cos(lat) on this rank's rows from vorticity and divergence.
  subroutine spectral_to_winds(tr, vor, div, u_cos, v_cos)
    type(transform_t), intent(in) :: tr
    complex(r8), intent(in) :: vor(:, :), div(:, :)
    real(r8), intent(out) :: u_cos(:, :, :), v_cos(:, :, :)
    complex(r8), allocatable :: fu(:, :, :), fv(:, :, :)
    allocate (fu(size(vor, 1), 0:tr%ntr, tr%nlat_own), fv(size(vor, 1), 0:tr%ntr, tr%nlat_own))
    call legendre_synthesis_winds(tr%leg, tr%lats, vor, div, fu, fv)
    call rows_from_fourier(tr, fu, u_cos)
    call rows_from_fourier(tr, fv, v_cos)
  end subroutine spectral_to_winds

  !> Grid rows (nk, nlon, nlat_own) from their Fourier coefficients (nk, 0:ntr, nlat_own), row
  !! by row (a row's lines fit in cache through all the FFT's stages).
  subroutine rows_from_fourier(tr, fc, rows)
    type(transform_t), intent(in) :: tr
    complex(r8), intent(in) :: fc(:, 0:, :)
    real(r8), intent(out) :: rows(:, :, :)
    integer :: jj
    do jj = 1, tr%nlat_own
      call fft_synthesis(tr%fft, fc(:, :, jj), rows(:, :, jj))
    end do
  end subroutine rows_from_fourier

  !> Collective: per-row values own(n, nlat_own) of every rank into all(n, nlat), so that
  !! global sums can be taken on every rank in one fixed row order.
  subroutine row_allgather(tr, own, all)
    type(transform_t), intent(in) :: tr
    real(r8), intent(in) :: own(:, :)
    real(r8), intent(out) :: all(:, :)
    call MPI_Allgatherv(own, size(own), MPI_DOUBLE_PRECISION, all, size(own, 1)*tr%lat_counts, &
                        size(own, 1)*displacements(tr%lat_counts), MPI_DOUBLE_PRECISION, tr%comm)
  end subroutine row_allgather

  pure function displacements(counts) result(displs)
    integer, intent(in) :: counts(0:)
    integer :: displs(0:size(counts) - 1)
    integer :: r
    displs(0) = 0
    do r = 1, size(counts) - 1
      displs(r) = displs(r - 1) + counts(r - 1)
    end do
  end function displacements
end module dyn_spectral_transform
