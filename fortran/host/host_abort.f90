!> Stopping the whole run: from one rank (abort_run: a flushed, rank-tagged message, then
!! MPI_Abort), or from all ranks together on an error every rank knows about (stop_run:
!! rank 0 reports it, every rank finalizes MPI and exits with status 2).
module host_abort
  use, intrinsic :: iso_fortran_env, only: error_unit
  use mpi_f08, only: MPI_Abort, MPI_Comm_rank, MPI_COMM_WORLD, MPI_Finalize
  implicit none (type, external)
  private
  public :: abort_run, stop_run

contains

  subroutine abort_run(msg)
    character(*), intent(in) :: msg
    integer :: rank
    call MPI_Comm_rank(MPI_COMM_WORLD, rank)
    write (error_unit, '("hybridge-host: rank ",i0,": ",a)') rank, msg
    flush (error_unit)
    call MPI_Abort(MPI_COMM_WORLD, 1)
  end subroutine abort_run

  !> Collective: a configuration or input error that every rank has found (or been told).
  subroutine stop_run(msg)
    character(*), intent(in) :: msg
    integer :: rank
    call MPI_Comm_rank(MPI_COMM_WORLD, rank)
    if (rank == 0) write (error_unit, '("hybridge-host: error: ",a)') msg
    flush (error_unit)
    call MPI_Finalize()
    stop 2
  end subroutine stop_run
end module host_abort
