!> Stopping the whole run from one rank: a flushed, rank-tagged message, then MPI_Abort.
module host_abort
  use, intrinsic :: iso_fortran_env, only: error_unit
  use mpi_f08, only: MPI_Abort, MPI_Comm_rank, MPI_COMM_WORLD
  implicit none (type, external)
  private
  public :: abort_run

contains

  subroutine abort_run(msg)
    character(*), intent(in) :: msg
    integer :: rank
    call MPI_Comm_rank(MPI_COMM_WORLD, rank)
    write (error_unit, '("hybridge-host: rank ",i0,": ",a)') rank, msg
    flush (error_unit)
    call MPI_Abort(MPI_COMM_WORLD, 1)
  end subroutine abort_run
end module host_abort
