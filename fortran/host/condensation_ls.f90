!> Large-scale condensation: supersaturation condenses and falls out at once, with the
!! latent heat released in the layer (no re-evaporation), as in Frierson et al. (2006,
!! section 2b). The saturation adjustment is linearized in temperature and done twice.
module condensation_ls
  use host_constants, only: r8, nlev, gravit, cpair, latvap
  use host_saturation, only: qsat, dqsat_dt
  use physics_types, only: physics_state
  implicit none (type, external)
  private
  public :: condensation_apply

contains

  !> Update t, q of column i in place; precip: condensate removed [kg/m2] this step.
  subroutine condensation_apply(state, i, t, q, precip)
    type(physics_state), intent(in) :: state
    integer, intent(in) :: i
    real(r8), intent(inout) :: t(nlev), q(nlev)
    real(r8), intent(out) :: precip
    real(r8) :: dq
    integer :: k, pass
    precip = 0.0_r8
    do pass = 1, 2
      do k = 1, nlev
        dq = (q(k) - qsat(t(k), state%pmid(k, i)))/(1.0_r8 + latvap/cpair*dqsat_dt(t(k), state%pmid(k, i)))
        if (dq <= 0.0_r8) cycle
        q(k) = q(k) - dq
        t(k) = t(k) + latvap/cpair*dq
        precip = precip + dq*state%pdel(k, i)/gravit
      end do
    end do
  end subroutine condensation_apply
end module condensation_ls
