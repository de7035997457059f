!> Bad input from Fortran, each with `stat`/`errmsg`: the status code is the documented
!> one and the message names the problem (file, tensor, expected vs got).
program test_bad_inputs
  use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan, ieee_positive_inf
  use, intrinsic :: iso_fortran_env, only: real64, int64
  use fixtures
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model, copy
  real(real64), allocatable, target :: x(:, :), y(:, :), wide(:, :), ywide(:, :)
  integer :: stat
  character(len=1024) :: msg
  character(:), allocatable :: path

  allocate(x(124, 5), y(128, 5))
  x = 300
  x(121, :) = 1.0e5_real64  ! state_ps: in range, so the NaN checks see a sane column

  ! Files.
  path = fixture_dir() // '/no_such_model.pt'
  call hyb_load(model, path, stat=stat, errmsg=msg)
  call expect_status('missing file', stat, HYB_ERR_FILE, msg, 'no_such_model.pt')
  call expect_true('a failed hyb_load leaves no model behind', model%handle == 0)

  path = fixture_dir() // '/bad_inputs.not_torchscript.pt'
  call write_text(path, 'this is a namelist, not a TorchScript archive')
  call hyb_load(model, path, stat=stat, errmsg=msg)
  call expect_status('file that is not TorchScript', stat, HYB_ERR_LOAD, msg, &
                     'bad_inputs.not_torchscript.pt')

  path = fixture_dir() // '/bad_inputs.truncated.pt'
  call write_truncated(model_path('mlp_v1'), path)
  call hyb_load(model, path, stat=stat, errmsg=msg)
  call expect_status('truncated model file', stat, HYB_ERR_LOAD, msg, 'bad_inputs.truncated.pt')

  ! Options and communicator.
  call hyb_load(model, model_path('mlp_v1'), options='threads', stat=stat, errmsg=msg)
  call expect_status("option without '='", stat, HYB_ERR_ARGUMENT, msg, 'threads')
  call hyb_load(model, model_path('mlp_v1'), options='colour=red', stat=stat, errmsg=msg)
  call expect_status('unknown option', stat, HYB_ERR_ARGUMENT, msg, 'colour')
  call expect_true('hyb_last_error() holds the same message', &
                   index(hyb_last_error(), "unknown option 'colour'") > 0)
  call hyb_load(model, model_path('mlp_v1'), comm=0, stat=stat, errmsg=msg)
  call expect_status('communicator without MPI_Init', stat, HYB_ERR_MPI, msg, 'MPI_Init')

  ! Declarations that do not match the manifest (per-column shape, then dtype).
  call hyb_create(model)
  call hyb_declare(model, HYB_INPUT, 'x', [100], HYB_FLOAT32)
  call hyb_load(model, model_path('mlp_v1'), stat=stat, errmsg=msg)
  call expect_status('declared shape vs manifest', stat, HYB_ERR_MANIFEST, msg, '124')
  call hyb_free(model)
  call hyb_create(model)
  call hyb_declare(model, HYB_OUTPUT, 'y', [128], HYB_FLOAT64)
  call hyb_load(model, model_path('mlp_v1'), stat=stat, errmsg=msg)
  call expect_status('declared dtype vs manifest', stat, HYB_ERR_MANIFEST, msg, 'float64')
  call hyb_free(model)
  call hyb_create(model)
  call hyb_declare(model, HYB_INPUT, 'state_t', [60], HYB_FLOAT32)
  call hyb_load(model, model_path('mlp_v1'), stat=stat, errmsg=msg)
  call expect_status('declared tensor not in manifest', stat, HYB_ERR_MANIFEST, msg, 'state_t')
  call hyb_free(model)

  ! Arrays.
  msg = 'left alone on success'
  call hyb_load(model, model_path('mlp_v1'), device='cpu', options='nonfinite=reject', &
                stat=stat, errmsg=msg)
  call expect_true('success: stat is HYB_OK, errmsg unchanged', &
                   stat == HYB_OK .and. msg == 'left alone on success')
  allocate(wide(100, 5))
  wide = 0
  call hyb_forward(model, wide, y, stat=stat, errmsg=msg)
  call expect_status('input with 100 features for 124', stat, HYB_ERR_SHAPE, msg, '124')
  call hyb_forward(model, x, y(:, 1:4), stat=stat, errmsg=msg)
  call expect_status('5 input columns, 4 output columns', stat, HYB_ERR_SHAPE, msg, 'ncol=4')
  allocate(ywide(128, 10))
  call hyb_forward(model, x, ywide(:, 1:10:2), stat=stat, errmsg=msg)
  call expect_status('non-contiguous output section', stat, HYB_ERR_ARGUMENT, msg, &
                     'not contiguous')
  call hyb_bind_input(model, 'state_t', x, stat=stat, errmsg=msg)
  call expect_status('bind to an unknown tensor', stat, HYB_ERR_NAME, msg, 'state_t')
  call hyb_bind_input(model, 'x', x, on_device=.true., stat=stat, errmsg=msg)
  call expect_status('device array bound for a CPU model', stat, HYB_ERR_DEVICE, msg, &
                     'runs on cpu')

  ! NaN and Inf: rejected, or passed through and counted.
  x(1, 3) = ieee_value(x(1, 3), ieee_quiet_nan)
  x(124, 5) = ieee_value(x(124, 5), ieee_positive_inf)
  call hyb_forward(model, x, y, stat=stat, errmsg=msg)
  call expect_status('NaN with nonfinite=reject', stat, HYB_ERR_NONFINITE, msg, 'NaN at column 2')
  call hyb_set_option(model, 'nonfinite', 'pass')
  call hyb_forward(model, x, y, stat=stat, errmsg=msg)
  call expect_true('NaN with nonfinite=pass runs', stat == HYB_OK)
  call expect_true('NaN and Inf counted', hyb_nonfinite_count(model) == 2_int64)

  ! Handles: a freed handle and a double free.
  copy = model
  call hyb_free(model)
  call expect_true('hyb_free zeroes the handle', model%handle == 0)
  call hyb_forward(copy, x, y, stat=stat, errmsg=msg)
  call expect_status('run on a freed handle', stat, HYB_ERR_HANDLE, msg, 'handle')
  call hyb_free(copy, stat=stat, errmsg=msg)
  call expect_status('double free', stat, HYB_ERR_HANDLE, msg, 'handle')

contains

  subroutine write_text(file, text)
    character(*), intent(in) :: file, text
    integer :: u

    open(newunit=u, file=file, status='replace', action='write')
    write(u, '(a)') text
    close(u)
  end subroutine write_text

  !> The first half of a model file, as a crashed copy would leave it.
  subroutine write_truncated(source, file)
    character(*), intent(in) :: source, file
    character(len=:), allocatable :: bytes
    integer :: u, nbyte

    open(newunit=u, file=source, access='stream', form='unformatted', status='old', &
         action='read')
    inquire(unit=u, size=nbyte)
    allocate(character(len=nbyte / 2) :: bytes)
    read(u) bytes
    close(u)
    open(newunit=u, file=file, access='stream', form='unformatted', status='replace', &
         action='write')
    write(u) bytes
    close(u)
  end subroutine write_truncated
end program test_bad_inputs
