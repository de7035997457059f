!> Time-mean history files: <output_dir>/<case>.h0.YYYY-MM-DD-SSSSS.nc, stamped with the
!! end of the averaging interval. The running sums travel in the restart file so that a
!! continued run writes the same means.
module host_history
  use host_constants, only: r8, nlev
  use host_grid, only: grid_t
  use host_ncfile, only: out_file, out_open, out_field, out_int, out_close
  use mpi_f08, only: MPI_Comm
  use physics_types, only: physics_state, physics_ptend, cam_out_t
  implicit none (type, external)
  private
  public :: history_init, history_accumulate, history_write

  integer, parameter, public :: nhist_prof = 4, nhist_sfc = 11
  character(16), parameter, public :: hist_prof_names(nhist_prof) = [character(16) :: &
    'state_t', 'state_q0001', 'ptend_t', 'ptend_q0001']
  character(8), parameter :: hist_prof_units(nhist_prof) = [character(8) :: 'K', 'kg/kg', 'K/s', 'kg/kg/s']
  character(16), parameter, public :: hist_sfc_names(nhist_sfc) = [character(16) :: &
    'pbuf_SOLIN', 'pbuf_LHFLX', 'pbuf_SHFLX', 'cam_out_NETSW', 'cam_out_FLWDS', 'cam_out_PRECSC', &
    'cam_out_PRECC', 'cam_out_SOLS', 'cam_out_SOLL', 'cam_out_SOLSD', 'cam_out_SOLLD']
  character(8), parameter :: hist_sfc_units(nhist_sfc) = [character(8) :: 'W/m2', 'W/m2', 'W/m2', &
    'W/m2', 'W/m2', 'm/s', 'm/s', 'W/m2', 'W/m2', 'W/m2', 'W/m2']

  !> Running sums since the last history write.
  type, public :: history_t
    real(r8), allocatable :: prof(:, :, :)   !< (nlev, ncol, nhist_prof)
    real(r8), allocatable :: sfc(:, :)       !< (ncol, nhist_sfc)
    integer :: nsamples = 0
  end type history_t

contains

  subroutine history_init(hist, ncol)
    type(history_t), intent(out) :: hist
    integer, intent(in) :: ncol
    allocate (hist%prof(nlev, ncol, nhist_prof), hist%sfc(ncol, nhist_sfc))
    hist%prof = 0
    hist%sfc = 0
  end subroutine history_init

  !> Add one step: the state after physics, the physics tendencies, the physics inputs and outputs.
  subroutine history_accumulate(hist, state, ptend, cam_out)
    type(history_t), intent(inout) :: hist
    type(physics_state), intent(in) :: state
    type(physics_ptend), intent(in) :: ptend
    type(cam_out_t), intent(in) :: cam_out
    hist%prof(:, :, 1) = hist%prof(:, :, 1) + state%t
    hist%prof(:, :, 2) = hist%prof(:, :, 2) + state%q
    hist%prof(:, :, 3) = hist%prof(:, :, 3) + ptend%t
    hist%prof(:, :, 4) = hist%prof(:, :, 4) + ptend%q
    hist%sfc(:, 1) = hist%sfc(:, 1) + state%solin
    hist%sfc(:, 2) = hist%sfc(:, 2) + state%lhflx
    hist%sfc(:, 3) = hist%sfc(:, 3) + state%shflx
    hist%sfc(:, 4) = hist%sfc(:, 4) + cam_out%netsw
    hist%sfc(:, 5) = hist%sfc(:, 5) + cam_out%flwds
    hist%sfc(:, 6) = hist%sfc(:, 6) + cam_out%precsc
    hist%sfc(:, 7) = hist%sfc(:, 7) + cam_out%precc
    hist%sfc(:, 8) = hist%sfc(:, 8) + cam_out%sols
    hist%sfc(:, 9) = hist%sfc(:, 9) + cam_out%soll
    hist%sfc(:, 10) = hist%sfc(:, 10) + cam_out%solsd
    hist%sfc(:, 11) = hist%sfc(:, 11) + cam_out%solld
    hist%nsamples = hist%nsamples + 1
  end subroutine history_accumulate

  !> Collective: write the means to path and restart the sums.
  subroutine history_write(hist, grid, comm, path, root)
    type(history_t), intent(inout) :: hist
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    character(*), intent(in) :: path
    logical, intent(in) :: root
    type(out_file) :: f
    integer :: n
    call out_open(f, path, root, 'hybridge-host time-mean history')
    call out_int(f, 'nsamples', hist%nsamples)
    do n = 1, nhist_prof
      call out_field(f, grid, comm, trim(hist_prof_names(n)), trim(hist_prof_units(n)), &
                     hist%prof(:, :, n)/hist%nsamples)
    end do
    do n = 1, nhist_sfc
      call out_field(f, grid, comm, trim(hist_sfc_names(n)), trim(hist_sfc_units(n)), &
                     reshape(hist%sfc(:, n)/hist%nsamples, [1, grid%ncol]))
    end do
    call out_close(f)
    hist%prof = 0
    hist%sfc = 0
    hist%nsamples = 0
  end subroutine history_write
end module host_history
