!> Time-mean history files: <output_dir>/<case>.h0.YYYY-MM-DD-SSSSS.nc, stamped with the
!! end of the averaging interval. The running sums travel in the restart file so that a
!! continued run writes the same means. With the dynamical core the files also hold the winds,
!! their tendencies, the surface pressure and the product v T, whose zonal mean minus the
!! product of the zonal means of v and T is the eddy heat flux (stationary plus transient).
module host_history
  use host_constants, only: r8, nlev
  use host_grid, only: grid_t
  use host_ncfile, only: out_file, out_open, out_field, out_int, out_close
  use mpi_f08, only: MPI_Comm
  use physics_types, only: physics_state, physics_ptend, cam_out_t
  implicit none (type, external)
  private
  public :: history_init, history_accumulate, history_write

  character(16), parameter :: base_prof(4) = [character(16) :: 'state_t', 'state_q0001', 'ptend_t', 'ptend_q0001']
  character(8), parameter :: base_prof_units(4) = [character(8) :: 'K', 'kg/kg', 'K/s', 'kg/kg/s']
  character(16), parameter :: wind_prof(5) = [character(16) :: 'state_u', 'state_v', 'ptend_u', 'ptend_v', 'state_vt']
  character(8), parameter :: wind_prof_units(5) = [character(8) :: 'm/s', 'm/s', 'm/s2', 'm/s2', 'K m/s']
  ! guarded_fraction: the fraction of the interval's steps in which the emulator's guard
  ! (ml_guard) found the column outside the training range.
  character(16), parameter :: base_sfc(12) = [character(16) :: &
    'pbuf_SOLIN', 'pbuf_LHFLX', 'pbuf_SHFLX', 'cam_out_NETSW', 'cam_out_FLWDS', 'cam_out_PRECSC', &
    'cam_out_PRECC', 'cam_out_SOLS', 'cam_out_SOLL', 'cam_out_SOLSD', 'cam_out_SOLLD', 'guarded_fraction']
  character(8), parameter :: base_sfc_units(12) = [character(8) :: 'W/m2', 'W/m2', 'W/m2', &
    'W/m2', 'W/m2', 'm/s', 'm/s', 'W/m2', 'W/m2', 'W/m2', 'W/m2', '1']

  !> Running sums since the last history write, and the names of the fields they hold.
  type, public :: history_t
    character(16), allocatable :: prof_names(:), sfc_names(:)
    character(8), allocatable :: prof_units(:), sfc_units(:)
    logical :: winds = .false.
    real(r8), allocatable :: prof(:, :, :)   !< (nlev, ncol, size(prof_names))
    real(r8), allocatable :: sfc(:, :)       !< (ncol, size(sfc_names))
    integer :: nsamples = 0
  end type history_t

contains

  !> winds: the state has prognostic winds and surface pressure (dynamical core).
  subroutine history_init(hist, ncol, winds)
    type(history_t), intent(out) :: hist
    integer, intent(in) :: ncol
    logical, intent(in) :: winds
    hist%winds = winds
    if (winds) then
      hist%prof_names = [base_prof, wind_prof]
      hist%prof_units = [base_prof_units, wind_prof_units]
      hist%sfc_names = [base_sfc, [character(16) :: 'state_ps']]
      hist%sfc_units = [base_sfc_units, [character(8) :: 'Pa']]
    else
      hist%prof_names = base_prof
      hist%prof_units = base_prof_units
      hist%sfc_names = base_sfc
      hist%sfc_units = base_sfc_units
    end if
    allocate (hist%prof(nlev, ncol, size(hist%prof_names)), hist%sfc(ncol, size(hist%sfc_names)))
    hist%prof = 0
    hist%sfc = 0
  end subroutine history_init

  !> Add one step: the state after physics, the physics tendencies, the physics inputs and
  !! outputs, and which columns the emulator's guard flagged.
  subroutine history_accumulate(hist, state, ptend, cam_out, guarded)
    type(history_t), intent(inout) :: hist
    type(physics_state), intent(in) :: state
    type(physics_ptend), intent(in) :: ptend
    type(cam_out_t), intent(in) :: cam_out
    logical, intent(in) :: guarded(:)
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
    hist%sfc(:, 12) = hist%sfc(:, 12) + merge(1.0_r8, 0.0_r8, guarded)
    if (hist%winds) then
      hist%prof(:, :, 5) = hist%prof(:, :, 5) + state%u
      hist%prof(:, :, 6) = hist%prof(:, :, 6) + state%v
      hist%prof(:, :, 7) = hist%prof(:, :, 7) + ptend%u
      hist%prof(:, :, 8) = hist%prof(:, :, 8) + ptend%v
      hist%prof(:, :, 9) = hist%prof(:, :, 9) + state%v*state%t
      hist%sfc(:, 13) = hist%sfc(:, 13) + state%ps
    end if
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
    do n = 1, size(hist%prof_names)
      call out_field(f, grid, comm, trim(hist%prof_names(n)), trim(hist%prof_units(n)), &
                     hist%prof(:, :, n)/hist%nsamples)
    end do
    do n = 1, size(hist%sfc_names)
      call out_field(f, grid, comm, trim(hist%sfc_names(n)), trim(hist%sfc_units(n)), &
                     reshape(hist%sfc(:, n)/hist%nsamples, [1, grid%ncol]))
    end do
    call out_close(f)
    hist%prof = 0
    hist%sfc = 0
    hist%nsamples = 0
  end subroutine history_write
end module host_history
