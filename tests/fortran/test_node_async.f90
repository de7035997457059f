!> NODE (issue 7), from Fortran under mpirun: with batching=node and chunk=16 the ClimSim v1
!> MLP gives every rank the bits of batching=rank, through hyb_run and through
!> hyb_run_start / hyb_run_finish with host work in between; a NaN on the last rank is an
!> error status on every rank, naming that rank, and the next run works; so is a
!> non-contiguous array passed to hyb_forward on one rank (no rank left waiting).
program test_node_async
  use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan, ieee_is_finite
  use, intrinsic :: iso_fortran_env, only: real64
  use fixtures
  use hybridge
  use mpi
  implicit none (type, external)
  integer, parameter :: nx = 124, ny = 128
  type(hyb_model) :: by_rank, by_node
  real(real64), allocatable :: xin(:)
  real(real64), allocatable, target :: x(:, :), y_rank(:, :), y_node(:, :), y_async(:, :), &
                                       y_wide(:, :)
  integer, allocatable :: xshape(:)
  integer :: ierr, rank, nranks, ncol, first, stat, i
  character(len=1024) :: msg
  character(len=64) :: owner_name
  real(real64) :: host_work

  call mpi_init(ierr)
  call mpi_comm_rank(MPI_COMM_WORLD, rank, ierr)
  call mpi_comm_size(MPI_COMM_WORLD, nranks, ierr)

  ! Uneven columns per rank out of the fixture's 384: rank r takes 20 + 13*r.
  call read_data('mlp_v1', 'in', 'x', xin, xshape)   ! [1, 384, 124]
  ncol = 20 + 13 * rank
  first = 20 * rank + 13 * (rank * (rank - 1)) / 2
  allocate(x(nx, ncol), y_rank(ny, ncol), y_node(ny, ncol), y_async(ny, ncol))
  x = reshape(xin(first * nx + 1:(first + ncol) * nx), [nx, ncol])

  call hyb_load(by_rank, model_path('mlp_v1'), options='chunk=16')
  call hyb_forward(by_rank, x, y_rank)

  call hyb_load(by_node, model_path('mlp_v1'), options='batching=node; chunk=16', comm=MPI_COMM_WORLD)
  call hyb_forward(by_node, x, y_node)
  call expect_equal_bits('node vs rank batching', reshape(y_node, [ny * ncol]), &
                         reshape(y_rank, [ny * ncol]), ny)

  call hyb_bind_input(by_node, 'x', x)
  call hyb_bind_output(by_node, 'y', y_async)
  call hyb_run_start(by_node)
  host_work = 0   ! other physics meanwhile
  do i = 1, 100000
    host_work = host_work + sin(real(i, real64))
  end do
  call hyb_run_finish(by_node)
  call expect_true('host work done', ieee_is_finite(host_work))
  call expect_equal_bits('hyb_run_start/finish vs rank batching', reshape(y_async, [ny * ncol]), &
                         reshape(y_rank, [ny * ncol]), ny)

  if (rank == nranks - 1) x(3, 2) = ieee_value(1.0_real64, ieee_quiet_nan)
  call hyb_forward(by_node, x, y_node, stat=stat, errmsg=msg)
  write(owner_name, "('rank ', i0, ' (node rank ', i0, ')')") nranks - 1, nranks - 1
  call expect_status('NaN on the last rank', stat, HYB_ERR_NONFINITE, msg, trim(owner_name))
  if (rank == nranks - 1) x(3, 2) = 0
  call hyb_forward(by_node, x, y_node, stat=stat, errmsg=msg)
  call expect_true('a run after the error succeeds', stat == HYB_OK)

  ! A non-contiguous output on the last rank only: that rank's hyb_forward still takes part
  ! in the collective run, so every rank gets an error naming it instead of hanging.
  allocate(y_wide(ny, 2 * ncol))
  if (rank == nranks - 1) then
    call hyb_forward(by_node, x, y_wide(:, 1:2 * ncol:2), stat=stat, errmsg=msg)
    call expect_status('non-contiguous output, this rank', stat, HYB_ERR_ARGUMENT, msg, &
                       'not contiguous')
  else
    call hyb_forward(by_node, x, y_node, stat=stat, errmsg=msg)
    call expect_status('non-contiguous output on the last rank', stat, HYB_ERR_ARGUMENT, msg, &
                       trim(owner_name))
  end if
  call hyb_forward(by_node, x, y_node, stat=stat, errmsg=msg)
  call expect_true('a run after the failed bind succeeds', stat == HYB_OK)

  call hyb_free(by_node)
  call hyb_free(by_rank)
  if (rank == 0) print '(a, i0, a)', 'node batching ok on ', nranks, ' ranks'
  call mpi_finalize(ierr)
end program test_node_async
