!> The physics interface types, named as in CAM/E3SM: the physics_state a
!! parameterization reads, the physics_ptend it returns, and cam_out, the surface
!! fields it hands to the surface models. Arrays are (nlev, ncol): a column is contiguous,
!! which is also the (nfeature, ncol) layout of the hybridge Fortran API.
module physics_types
  use host_constants, only: r8, nlev, dtime
  implicit none (type, external)
  private
  public :: physics_state_alloc, physics_ptend_alloc, cam_out_alloc, physics_update, set_pressure

  type, public :: physics_state
    integer :: ncol = 0
    real(r8), allocatable :: lat(:), lon(:)      !< [rad]
    real(r8), allocatable :: ps(:)               !< state_ps, surface pressure [Pa]
    real(r8), allocatable :: pmid(:, :)          !< mid-level pressure [Pa] (nlev, ncol)
    real(r8), allocatable :: pint(:, :)          !< interface pressure [Pa] (nlev+1, ncol)
    real(r8), allocatable :: pdel(:, :)          !< layer thickness [Pa]
    real(r8), allocatable :: t(:, :)             !< state_t [K]
    real(r8), allocatable :: q(:, :)             !< state_q0001, specific humidity [kg/kg]
    real(r8), allocatable :: u(:, :), v(:, :)    !< state_u, state_v: eastward, northward wind [m/s]
    ! Boundary data the surface and radiation models provide before the physics runs.
    real(r8), allocatable :: solin(:)            !< pbuf_SOLIN, insolation at the model top [W/m2]
    real(r8), allocatable :: coszrs(:)           !< cosine of the solar zenith angle
    real(r8), allocatable :: sst(:)              !< prescribed sea-surface temperature [K]
    real(r8), allocatable :: lhflx(:)            !< pbuf_LHFLX, surface latent heat flux, upward [W/m2]
    real(r8), allocatable :: shflx(:)            !< pbuf_SHFLX, surface sensible heat flux, upward [W/m2]
  end type physics_state

  type, public :: physics_ptend
    real(r8), allocatable :: t(:, :)             !< ptend_t [K/s]
    real(r8), allocatable :: q(:, :)             !< ptend_q0001 [kg/kg/s]
    real(r8), allocatable :: u(:, :), v(:, :)    !< ptend_u, ptend_v [m/s2]
  end type physics_ptend

  !> Surface fields from the atmosphere (ClimSim cam_out_*).
  type, public :: cam_out_t
    real(r8), allocatable :: netsw(:)   !< net shortwave at the surface [W/m2]
    real(r8), allocatable :: flwds(:)   !< downward longwave at the surface [W/m2]
    real(r8), allocatable :: precsc(:)  !< snow part of precc [m/s, liquid equivalent]
    real(r8), allocatable :: precc(:)   !< surface precipitation rate [m/s]
    real(r8), allocatable :: sols(:)    !< direct visible downward shortwave [W/m2]
    real(r8), allocatable :: soll(:)    !< direct near-infrared downward shortwave [W/m2]
    real(r8), allocatable :: solsd(:)   !< diffuse visible downward shortwave [W/m2]
    real(r8), allocatable :: solld(:)   !< diffuse near-infrared downward shortwave [W/m2]
  end type cam_out_t

contains

  subroutine physics_state_alloc(state, ncol)
    type(physics_state), intent(out) :: state
    integer, intent(in) :: ncol
    state%ncol = ncol
    allocate (state%lat(ncol), state%lon(ncol), state%ps(ncol), state%pmid(nlev, ncol), &
              state%pint(nlev + 1, ncol), state%pdel(nlev, ncol), state%t(nlev, ncol), &
              state%q(nlev, ncol), state%u(nlev, ncol), state%v(nlev, ncol), state%solin(ncol), &
              state%coszrs(ncol), state%sst(ncol), &
              state%lhflx(ncol), state%shflx(ncol))
    state%u = 0
    state%v = 0
    state%solin = 0
    state%coszrs = 0
    state%sst = 0
    state%lhflx = 0
    state%shflx = 0
  end subroutine physics_state_alloc

  subroutine physics_ptend_alloc(ptend, ncol)
    type(physics_ptend), intent(out) :: ptend
    integer, intent(in) :: ncol
    allocate (ptend%t(nlev, ncol), ptend%q(nlev, ncol), ptend%u(nlev, ncol), ptend%v(nlev, ncol))
    ptend%t = 0
    ptend%q = 0
    ptend%u = 0
    ptend%v = 0
  end subroutine physics_ptend_alloc

  subroutine cam_out_alloc(cam_out, ncol)
    type(cam_out_t), intent(out) :: cam_out
    integer, intent(in) :: ncol
    allocate (cam_out%netsw(ncol), cam_out%flwds(ncol), cam_out%precsc(ncol), cam_out%precc(ncol), &
              cam_out%sols(ncol), cam_out%soll(ncol), cam_out%solsd(ncol), cam_out%solld(ncol))
  end subroutine cam_out_alloc

  !> Hybrid-coordinate pressures from ps: p = hyam*P0 + hybm*ps.
  subroutine set_pressure(state, hyam, hybm, hyai, hybi, p0)
    type(physics_state), intent(inout) :: state
    real(r8), intent(in) :: hyam(:), hybm(:), hyai(:), hybi(:), p0
    integer :: i
    do i = 1, state%ncol
      state%pmid(:, i) = hyam*p0 + hybm*state%ps(i)
      state%pint(:, i) = hyai*p0 + hybi*state%ps(i)
      state%pdel(:, i) = state%pint(2:nlev + 1, i) - state%pint(1:nlev, i)
    end do
  end subroutine set_pressure

  !> The one place where physics tendencies change the state (CAM's physics_update).
  !! Humidity that a tendency would drive below zero is set to zero and the points are
  !! counted (CAM's qneg3); conventional physics never does this, an emulator may.
  subroutine physics_update(state, ptend, nqneg)
    type(physics_state), intent(inout) :: state
    type(physics_ptend), intent(in) :: ptend
    integer, intent(out) :: nqneg
    state%t = state%t + dtime*ptend%t
    state%q = state%q + dtime*ptend%q
    state%u = state%u + dtime*ptend%u
    state%v = state%v + dtime*ptend%v
    nqneg = count(state%q < 0.0_r8)
    where (state%q < 0.0_r8) state%q = 0.0_r8
  end subroutine physics_update
end module physics_types
