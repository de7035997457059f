!> Queries on a loaded model: manifest text, tensor counts and info, the variable layout
!> (ClimSim v1: state_t at offset 0 size 60, ...), the device, and the 1-based indices.
program test_queries
  use fixtures
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model
  character(:), allocatable :: json, name, device
  character(len=32), allocatable :: names(:)
  integer, allocatable :: shape(:), offsets(:), sizes(:)
  integer :: dtype, batch_axis, stat, ninput, noutput, nstate
  character(len=512) :: msg

  call hyb_load(model, model_path('mlp_v1'), device='cpu')
  call hyb_manifest(model, json)
  call expect_true('manifest names its schema', index(json, 'hybridge-manifest/1') > 0)
  call expect_true('manifest names the model', index(json, 'climsim_v1_mlp') > 0)
  call expect_true('manifest has a checksum', index(json, 'sha256:') > 0)
  ninput = hyb_count(model, HYB_INPUT)
  noutput = hyb_count(model, HYB_OUTPUT)
  nstate = hyb_count(model, HYB_STATE)
  call expect_true('1 input, 1 output, no state', ninput == 1 .and. noutput == 1 .and. nstate == 0)

  call hyb_tensor_info(model, HYB_INPUT, 1, name, shape, dtype, batch_axis)
  call expect_true('input 1 is x [124] float32, column axis 0', name == 'x' .and. &
                   all(shape == [124]) .and. dtype == HYB_FLOAT32 .and. batch_axis == 0)
  call hyb_tensor_info(model, HYB_OUTPUT, 1, name, shape, dtype)
  call expect_true('output 1 is y [128] float32', name == 'y' .and. all(shape == [128]) &
                   .and. dtype == HYB_FLOAT32)
  call hyb_tensor_info(model, HYB_INPUT, 2, name, stat=stat, errmsg=msg)
  call expect_true('input 2 does not exist', stat /= HYB_OK)

  call hyb_layout(model, HYB_INPUT, 'x', names, offsets, sizes)
  call expect_true('input layout has 6 variables', size(names) == 6)
  call expect_true('state_t at offset 0 size 60', names(1) == 'state_t' .and. &
                   offsets(1) == 0 .and. sizes(1) == 60)
  call expect_true('state_q0001 at offset 60 size 60', names(2) == 'state_q0001' .and. &
                   offsets(2) == 60 .and. sizes(2) == 60)
  call expect_true('state_ps pbuf_SOLIN pbuf_LHFLX pbuf_SHFLX at 120..123, size 1', &
                   names(3) == 'state_ps' .and. names(4) == 'pbuf_SOLIN' .and. &
                   names(5) == 'pbuf_LHFLX' .and. names(6) == 'pbuf_SHFLX' .and. &
                   all(offsets(3:6) == [120, 121, 122, 123]) .and. all(sizes(3:6) == 1))
  call hyb_layout(model, HYB_OUTPUT, 'y', names, offsets, sizes)
  call expect_true('output layout: ptend_t(60) ptend_q0001(60) then 8 cam_out scalars', &
                   size(names) == 10 .and. names(1) == 'ptend_t' .and. names(2) == 'ptend_q0001' &
                   .and. names(10) == 'cam_out_SOLLD' .and. offsets(10) == 127 .and. sizes(10) == 1)

  call hyb_device(model, device)
  call expect_true('device is cpu', device == 'cpu')
  call hyb_free(model)

  call hyb_load(model, model_path('recurrent'))
  call hyb_tensor_info(model, HYB_STATE, 1, name, shape, dtype, batch_axis)
  call expect_true('state 1 is h [2, 16], column axis 1', name == 'h' .and. &
                   all(shape == [2, 16]) .and. batch_axis == 1)
  call hyb_free(model)
end program test_queries
