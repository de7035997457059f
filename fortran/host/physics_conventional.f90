!> The conventional physics package: gray radiation, boundary-layer diffusion with the
!! surface fluxes, simplified Betts-Miller convection and large-scale condensation, one
!! after the other on a copy of each column (sequential splitting, as in CAM's tphysbc).
!! The result is returned as one tendency, ptend = (column after - column before)/dt,
!! which the driver applies.
module physics_conventional
  use condensation_ls, only: condensation_apply
  use convection_sbm, only: convection_apply
  use host_constants, only: r8, nlev, dtime, rhoh2o, tmelt
  use physics_types, only: physics_state, physics_ptend, cam_out_t
  use radiation_gray, only: radiation_tend
  use vertical_diffusion, only: vertical_diffusion_apply
  implicit none (type, external)
  private
  public :: conventional_physics

contains

  !> rad_col: column radiative heating [W/m2], needed by the energy budget.
  subroutine conventional_physics(state, ptend, cam_out, rad_col)
    type(physics_state), intent(in) :: state
    type(physics_ptend), intent(inout) :: ptend
    type(cam_out_t), intent(inout) :: cam_out
    real(r8), intent(out) :: rad_col(:)
    real(r8) :: t(nlev), q(nlev), u(nlev), v(nlev), t_rad(nlev, state%ncol), precip_conv, precip_ls, precip
    integer :: i

    call radiation_tend(state, t_rad, cam_out, rad_col)
    do i = 1, state%ncol
      t = state%t(:, i) + dtime*t_rad(:, i)
      q = state%q(:, i)
      u = state%u(:, i)
      v = state%v(:, i)
      call vertical_diffusion_apply(state, i, t, q, u, v)
      call convection_apply(state, i, t, q, precip_conv)
      call condensation_apply(state, i, t, q, precip_ls)
      ptend%t(:, i) = (t - state%t(:, i))/dtime
      ptend%q(:, i) = (q - state%q(:, i))/dtime
      ptend%u(:, i) = (u - state%u(:, i))/dtime
      ptend%v(:, i) = (v - state%v(:, i))/dtime
      ! As in E3SM-MMF, where the cloud-resolving model's rain is all reported as PRECC,
      ! cam_out_PRECC is the total surface precipitation; it falls as snow (PRECSC)
      ! when the lowest model level is below freezing.
      precip = (precip_conv + precip_ls)/(rhoh2o*dtime)
      cam_out%precc(i) = precip
      cam_out%precsc(i) = merge(precip, 0.0_r8, t(nlev) < tmelt)
    end do
  end subroutine conventional_physics
end module physics_conventional
