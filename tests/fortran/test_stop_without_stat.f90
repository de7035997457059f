!> Without `stat`, a failing call stops the program with the message (as Fortran
!> intrinsics do). ctest passes only on the message printed by `error stop`.
program test_stop_without_stat
  use fixtures, only: fixture_dir
  use hybridge
  implicit none (type, external)
  type(hyb_model) :: model

  call hyb_load(model, fixture_dir() // '/no_such_model_for_stop_test.pt')
  print '(a)', 'hyb_load returned after a failure without stat'
end program test_stop_without_stat
