!> Per-step diagnostics: global column energy and water budgets of the physics, and the
!! stability guard. Global means are area-weighted sums taken on rank 0 over the gathered
!! columns in global column order, so they do not depend on the number of ranks.
!!
!! Energy: the physics conserves column moist enthalpy  E = sum((cp T + Lv q) dp/g)  up to
!! its sources, so  dE/dt(physics) = SHFLX + LHFLX + R_col  (R_col: column radiative heating).
!! Water:  dW/dt(physics) = LHFLX/Lv - rho_w PRECC  with  W = sum(q dp/g).
!! The residuals are logged; for the conventional physics they are round-off.
module host_diagnostics
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  use, intrinsic :: iso_fortran_env, only: output_unit
  use host_abort, only: abort_run
  use host_calendar, only: model_date, date_tag
  use host_constants, only: r8, nlev, ncol_global, gravit, cpair, latvap, rhoh2o, dtime, &
                            t_guard_min, t_guard_max, seconds_per_day
  use host_grid, only: grid_t
  use host_ncfile, only: gather_columns
  use mpi_f08, only: MPI_Comm
  use physics_types, only: physics_state, cam_out_t
  implicit none (type, external)
  private
  public :: global_budgets, stability_guard

  integer, parameter :: ndiag = 8

  !> Area-weighted global means of one step, valid on rank 0.
  type, public :: budget_t
    real(r8) :: t_mean = 0       !< mass-weighted mean temperature [K]
    real(r8) :: energy = 0       !< column moist enthalpy after physics [J/m2]
    real(r8) :: de_phys = 0      !< its physics tendency [W/m2]
    real(r8) :: e_sources = 0    !< SHFLX + LHFLX + R_col [W/m2]
    real(r8) :: water = 0        !< column water vapour [kg/m2]
    real(r8) :: dw_phys = 0      !< its physics tendency [kg/m2/s]
    real(r8) :: w_sources = 0    !< evaporation - precipitation [kg/m2/s]
    real(r8) :: precip = 0       !< precipitation [mm/day]
  end type budget_t

contains

  !> Collective. t_before, q_before: the state the physics received.
  function global_budgets(grid, comm, root, state, t_before, q_before, cam_out, rad_col) result(b)
    type(grid_t), intent(in) :: grid
    type(MPI_Comm), intent(in) :: comm
    logical, intent(in) :: root
    type(physics_state), intent(in) :: state
    real(r8), intent(in) :: t_before(:, :), q_before(:, :), rad_col(:)
    type(cam_out_t), intent(in) :: cam_out
    type(budget_t) :: b
    real(r8) :: col(ndiag, grid%ncol), glob(ndiag, merge(ncol_global, 0, root)), mass(nlev), w(ncol_global)
    integer :: i
    do i = 1, grid%ncol
      mass = state%pdel(:, i)/gravit
      col(1, i) = sum(state%t(:, i)*mass)/sum(mass)
      col(2, i) = sum((cpair*state%t(:, i) + latvap*state%q(:, i))*mass)
      col(3, i) = sum((cpair*(state%t(:, i) - t_before(:, i)) + latvap*(state%q(:, i) - q_before(:, i)))*mass)/dtime
      col(4, i) = state%shflx(i) + state%lhflx(i) + rad_col(i)
      col(5, i) = sum(state%q(:, i)*mass)
      col(6, i) = sum((state%q(:, i) - q_before(:, i))*mass)/dtime
      col(7, i) = state%lhflx(i)/latvap - rhoh2o*cam_out%precc(i)
      col(8, i) = cam_out%precc(i)*1000.0_r8*seconds_per_day
    end do
    call gather_columns(grid, comm, col, glob)
    if (.not. root) return
    w = grid%area/sum(grid%area)
    b%t_mean = wsum(1)
    b%energy = wsum(2)
    b%de_phys = wsum(3)
    b%e_sources = wsum(4)
    b%water = wsum(5)
    b%dw_phys = wsum(6)
    b%w_sources = wsum(7)
    b%precip = wsum(8)

  contains

    real(r8) function wsum(k)
      integer, intent(in) :: k
      integer :: j
      wsum = 0.0_r8
      do j = 1, ncol_global
        wsum = wsum + w(j)*glob(k, j)
      end do
    end function wsum
  end function global_budgets

  !> Stop the run if any temperature is non-finite or outside [t_guard_min, t_guard_max], or
  !! any humidity is non-finite, after writing the offending column to a crash dump.
  subroutine stability_guard(grid, rank, state, t_before, q_before, d, output_dir)
    type(grid_t), intent(in) :: grid
    integer, intent(in) :: rank
    type(physics_state), intent(in) :: state
    real(r8), intent(in) :: t_before(:, :), q_before(:, :)
    type(model_date), intent(in) :: d
    character(*), intent(in) :: output_dir
    character(16) :: var
    character(:), allocatable :: dump
    character(256) :: msg
    integer :: i, k, kk, unit
    do i = 1, state%ncol
      do k = 1, nlev
        var = ''
        if (.not. ieee_is_finite(state%t(k, i))) then
          var = 'state_t'
        else if (state%t(k, i) < t_guard_min .or. state%t(k, i) > t_guard_max) then
          var = 'state_t'
        else if (.not. ieee_is_finite(state%q(k, i))) then
          var = 'state_q0001'
        end if
        if (var == '') cycle
        write (msg, '("crash.rank",i0,".col",i0,".txt")') rank, grid%col_start + i - 1
        dump = trim(output_dir)//'/'//trim(msg)
        open (newunit=unit, file=dump, status='replace', action='write')
        write (unit, '("# hybridge-host crash dump, ",a,", rank ",i0,", global column ",i0, &
              & ", lat ",f8.3,", lon ",f8.3)') date_tag(d), rank, grid%col_start + i - 1, &
              state%lat(i)*57.29577951308232_r8, state%lon(i)*57.29577951308232_r8
        write (unit, '("# ps ",es24.16," SOLIN ",es24.16," LHFLX ",es24.16," SHFLX ",es24.16)') &
          state%ps(i), state%solin(i), state%lhflx(i), state%shflx(i)
        write (unit, '("# lev pmid[Pa] t_in[K] q_in[kg/kg] t_out[K] q_out[kg/kg]")')
        do kk = 1, nlev
          write (unit, '(i3,5es24.16)') kk, state%pmid(kk, i), t_before(kk, i), q_before(kk, i), &
            state%t(kk, i), state%q(kk, i)
        end do
        close (unit)
        write (msg, '("stability guard at ",a,": ",a," = ",es12.5," at global column ",i0,", level ",i0, &
              & " (allowed T range [",f5.1,", ",f5.1,"] K); crash dump")') date_tag(d), trim(var), &
          merge(state%t(k, i), state%q(k, i), var == 'state_t'), grid%col_start + i - 1, k, t_guard_min, t_guard_max
        call abort_run(trim(msg)//' '//dump)
      end do
    end do
    flush (output_unit)
  end subroutine stability_guard
end module host_diagnostics
