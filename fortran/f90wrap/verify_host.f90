!> The host model's emulator coupling, physics_ml (fortran/host/physics_ml.f90), as plain
!! procedures that f90wrap can wrap (layer: host physics driver, test access). The harness
!! feeds it ClimSim v1 state fields from Python and compares the ptend/cam_out it returns
!! with the Python reference, so the host's own mapping of variables into and out of the
!! model's tensors is checked, not only the API under it.
!!
!! Fields are (nlev, ncol) or (ncol) real64, as in physics_types. An error inside
!! physics_ml stops the run with MPI_Abort, as it does in hybridge-host.
module verify_host
  use host_constants, only: r8, nlev
  use host_namelist, only: host_config
  use mpi_f08, only: MPI_COMM_WORLD
  use physics_ml, only: ml_init, ml_physics, ml_state_size, ml_get_state, ml_set_state, ml_finalize
  use physics_types, only: physics_state, physics_ptend, cam_out_t, physics_state_alloc, &
                           physics_ptend_alloc, cam_out_alloc
  implicit none (type, external)
  private
  public :: vh_ml_init, vh_ml_physics, vh_ml_state_size, vh_ml_get_state, vh_ml_set_state, &
            vh_ml_finalize

contains

  !> ml_init as hybridge-host calls it, for ncol columns on this rank.
  subroutine vh_ml_init(model_path, ml_chunk, num_threads, ncol)
    character(len=*), intent(in) :: model_path
    integer, intent(in) :: ml_chunk, num_threads, ncol
    type(host_config) :: cfg
    cfg%physics_mode = 'ml'
    cfg%model_path = model_path
    cfg%ml_chunk = ml_chunk
    cfg%num_threads = num_threads
    call ml_init(cfg, ncol, MPI_COMM_WORLD)
  end subroutine vh_ml_init

  !> One call of ml_physics. cam_out(8, ncol) returns, in ClimSim v1 order, NETSW FLWDS
  !! PRECSC PRECC SOLS SOLL SOLSD SOLLD. ok = 0 when the engine failed (errmsg says why);
  !! col_ok(i) = 0 where column i got a non-finite output.
  subroutine vh_ml_physics(t, q, ps, solin, lhflx, shflx, ptend_t, ptend_q, cam_out, col_ok, &
                           ok, errmsg)
    real(r8), intent(in) :: t(:, :), q(:, :), ps(:), solin(:), lhflx(:), shflx(:)
    real(r8), intent(inout) :: ptend_t(:, :), ptend_q(:, :), cam_out(:, :)
    integer, intent(inout) :: col_ok(:)
    integer, intent(out) :: ok
    character(len=512), intent(out) :: errmsg
    type(physics_state) :: state
    type(physics_ptend) :: ptend
    type(cam_out_t) :: co
    logical :: col_good(size(ps)), guarded(size(ps)), run_ok
    character(:), allocatable :: msg
    integer :: ncol

    ncol = size(ps)
    errmsg = ''
    if (size(t, 1) /= nlev .or. size(t, 2) /= ncol) then
      ok = 0
      write (errmsg, '(a,2(i0,1x),a,i0,1x,i0)') 'verify_host: t has shape ', shape(t), &
        ', expected ', nlev, ncol
      return
    end if
    call physics_state_alloc(state, ncol)
    call physics_ptend_alloc(ptend, ncol)
    call cam_out_alloc(co, ncol)
    state%t = t
    state%q = q
    state%ps = ps
    state%solin = solin
    state%lhflx = lhflx
    state%shflx = shflx
    call ml_physics(state, ptend, co, col_good, guarded, run_ok, msg)  ! ml_guard is off here
    ok = merge(1, 0, run_ok)
    col_ok = merge(1, 0, col_good)
    if (.not. run_ok) then
      errmsg = msg
      return
    end if
    ptend_t = ptend%t
    ptend_q = ptend%q
    cam_out(1, :) = co%netsw
    cam_out(2, :) = co%flwds
    cam_out(3, :) = co%precsc
    cam_out(4, :) = co%precc
    cam_out(5, :) = co%sols
    cam_out(6, :) = co%soll
    cam_out(7, :) = co%solsd
    cam_out(8, :) = co%solld
  end subroutine vh_ml_physics

  !> Recurrent state values per column (all state tensors), as the restart file holds them.
  integer function vh_ml_state_size()
    vh_ml_state_size = ml_state_size()
  end function vh_ml_state_size

  subroutine vh_ml_get_state(buf)
    real(r8), intent(inout) :: buf(:, :)
    call ml_get_state(buf)
  end subroutine vh_ml_get_state

  subroutine vh_ml_set_state(buf)
    real(r8), intent(in) :: buf(:, :)
    call ml_set_state(buf)
  end subroutine vh_ml_set_state

  subroutine vh_ml_finalize()
    call ml_finalize()
  end subroutine vh_ml_finalize
end module verify_host
