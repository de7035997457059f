!> The spectral-transform primitive-equation dynamical core: vorticity, divergence,
!! temperature, ln(surface pressure) and specific humidity in spherical harmonics (triangular
!! truncation), nonlinear terms on the Gaussian grid, semi-implicit leapfrog in time with the
!! Robert-Asselin-Williams filter, implicit hyperdiffusion and a sponge (dyn_damping).
!!
!! Equations (Hoskins and Simmons 1975, Q. J. R. Meteorol. Soc. 101, 637, in the hybrid
!! coordinate of Simmons and Burridge 1981, Mon. Weather Rev. 109, 758; vector-invariant
!! momentum form), with U = u cos(lat), V = v cos(lat), mu = sin(lat), f = 2 Omega mu:
!!   dzeta/dt = curl F,   dD/dt = div F - Laplacian(E),   E = (U^2 + V^2)/(2(1-mu^2)) + Phi
!!   F_U = (zeta + f) V - (eta-dot dU/deta) - R T c_k (1/a) dlnps/dlambda
!!   F_V = -(zeta + f) U - (eta-dot dV/deta) - R T c_k (1/a) (1-mu^2) dlnps/dmu
!!   dT/dt = -v.grad T - (eta-dot dT/deta) + kappa T (omega/p)_k
!!   dq/dt = -v.grad q - (eta-dot dq/deta)
!!   dlnps/dt = -(1/ps) sum_k div(v_k dp_k),   div(v_k dp_k) = D_k dp_k + dB_k ps v_k.grad ln ps
!!   (eta-dot dp/deta)_{k+1/2} = -B_{k+1/2} dps/dt - sum_{j<=k} div(v_j dp_j)
!!   (omega/p)_k = c_k v_k.grad ln ps - [lnr_k sum_{j<k} div(v_j dp_j) + alpha_k div(v_k dp_k)]/dp_k
!! (S&B eqs. 3.1-3.14; c_k, lnr_k, alpha_k, Phi and the vertical advection in dyn_vertical). The
!! dynamics is dry (the virtual-temperature effect of q is left out, as in the moist GCM of
!! Frierson, Held and Zurita-Gotor 2006, J. Atmos. Sci. 63, 2548) and q is a tracer that the
!! physics changes. Physics is time-split: after the dynamics steps of a physics step the grid
!! state goes to the physics, whose increments are transformed and added to the current
!! spectral state.
!!
!! Time filter: Robert-Asselin-Williams (Williams 2009, Mon. Weather Rev. 137, 2538; 2011,
!! Mon. Weather Rev. 139, 1996):  d = nu/2 (X(n-1) - 2 X(n) + X(n+1)),  X(n) += alpha d,
!! X(n+1) -= (1 - alpha) d, with Williams's nu = 0.2 and alpha = 0.53 (nu = 0.06, as in CAM's Eulerian
!! core, lets the computational mode of the thin top layers of the ClimSim levels grow at 1200 s).
module dyn_spectral
  use dyn_damping, only: damping_t, damping_init, damp
  use dyn_semi_implicit, only: semi_implicit_t, semi_implicit_init, semi_implicit_solve
  use dyn_spectral_transform, only: transform_t, transform_init, grid_to_spectral, spectral_allgather, &
    spectral_to_grid, spectral_to_winds, row_allgather
  use dyn_vertical, only: vertical_t, layer_geometry, geopotential, vertical_advection
  use host_constants, only: r8, rair, cappa, rearth
  use mpi_f08, only: MPI_Comm
  implicit none (type, external)
  private
  public :: dyn_spectral_init, dyn_spectral_set_state, dyn_spectral_run, dyn_spectral_to_grid, &
            dyn_spectral_add_increments, dyn_spectral_allgather_old, dyn_spectral_global_mean

  real(r8), parameter :: omega = 7.292e-5_r8     !< Earth's rotation rate [s-1]
  real(r8), parameter :: robert_nu = 0.2_r8     !< time-filter coefficient
  real(r8), parameter :: williams_alpha = 0.53_r8
  integer, parameter, public :: old = 1, now = 2  !< time levels of the spectral fields

  !> The core's set-up and state. Spectral fields are x(nlines, nspec, 2): time level 'old'
  !! (n-1) is kept current for this rank's m only, 'now' (n) for all m.
  type, public :: dyn_spectral_t
    type(transform_t) :: tr
    type(vertical_t) :: vert
    type(semi_implicit_t) :: si
    type(damping_t) :: dmp
    integer :: nlev = 0, nlon = 0, nrow = 0, ncol = 0   !< levels; this rank's rows and columns
    real(r8) :: dt = 0                          !< dynamics time step [s]
    integer :: nsub = 1                         !< dynamics steps per physics step
    logical :: moist = .true.                   !< carry humidity (.false.: the dry Held-Suarez core)
    logical :: first = .true.                   !< the next step is the forward first step
    integer, allocatable :: own(:)              !< spectral indices of this rank's m
    real(r8), allocatable :: mu(:), cos2(:)     !< (nrow) sin(lat) and cos^2(lat) of this rank's rows
    complex(r8), allocatable :: vor(:, :, :), div(:, :, :), t(:, :, :), q(:, :, :), lnps(:, :, :)
  end type dyn_spectral_t

contains

  !> ok = .false. with errmsg when the grid cannot be set up on this many ranks.
  !! diffusion_time: e-folding time of the hyperdiffusion at n = ntr [s].
  subroutine dyn_spectral_init(dyn, ntr, nlat, nlon, vert, dt, nsub, diffusion_time, moist, comm, ok, errmsg)
    type(dyn_spectral_t), intent(out) :: dyn
    integer, intent(in) :: ntr, nlat, nlon, nsub
    type(vertical_t), intent(in) :: vert
    real(r8), intent(in) :: dt, diffusion_time
    logical, intent(in) :: moist
    type(MPI_Comm), intent(in) :: comm
    logical, intent(out) :: ok
    character(:), allocatable, intent(out) :: errmsg
    character(160) :: buf
    integer :: mi, m, n, pos, nspec
    errmsg = ''
    call transform_init(dyn%tr, ntr, nlat, nlon, comm, ok)
    if (.not. ok) then
      write (buf, '("the T",i0," grid has ",i0," latitude rows: run it on at most that many ranks")') ntr, nlat
      errmsg = trim(buf)
      return
    end if
    dyn%vert = vert
    dyn%nlev = vert%nlev
    dyn%nlon = nlon
    dyn%nrow = dyn%tr%nlat_own
    dyn%ncol = dyn%nrow*nlon
    dyn%dt = dt
    dyn%nsub = nsub
    dyn%moist = moist
    dyn%mu = dyn%tr%leg%mu(dyn%tr%lats)
    dyn%cos2 = 1.0_r8 - dyn%mu**2
    allocate (dyn%own(sum(ntr + 1 - dyn%tr%my_m)))
    pos = 0
    do mi = 1, size(dyn%tr%my_m)
      m = dyn%tr%my_m(mi)
      do n = m, ntr
        pos = pos + 1
        dyn%own(pos) = dyn%tr%leg%mstart(m) + n - m
      end do
    end do
    call semi_implicit_init(dyn%si, vert, ntr, dt)
    ! The sponge acts on the levels' pressures at ps = 1000 hPa.
    call damping_init(dyn%dmp, dyn%tr%leg%n_of, ntr, &
                      0.5_r8*(vert%a_half(0:vert%nlev - 1) + vert%a_half(1:vert%nlev)) + &
                      0.5e5_r8*(vert%b_half(0:vert%nlev - 1) + vert%b_half(1:vert%nlev)), diffusion_time)
    nspec = dyn%tr%nspec
    allocate (dyn%vor(dyn%nlev, nspec, 2), dyn%div(dyn%nlev, nspec, 2), dyn%t(dyn%nlev, nspec, 2), &
              dyn%q(dyn%nlev, nspec, 2), dyn%lnps(1, nspec, 2))
    dyn%vor = 0
    dyn%div = 0
    dyn%t = 0
    dyn%q = 0
    dyn%lnps = 0
  end subroutine dyn_spectral_init

  !> Collective. Start from the grid state of this rank's columns (nlev, ncol) and ps(ncol):
  !! both time levels are set to it and the next step is a forward step.
  subroutine dyn_spectral_set_state(dyn, t, q, u, v, ps)
    type(dyn_spectral_t), intent(inout) :: dyn
    real(r8), intent(in) :: t(:, :), q(:, :), u(:, :), v(:, :), ps(:)
    real(r8), allocatable :: sc(:, :, :), ucos(:, :, :), vcos(:, :, :)
    complex(r8), allocatable :: xs(:, :), curl(:, :), dv(:, :)
    integer :: nl
    nl = dyn%nlev
    allocate (sc(2*nl + 1, dyn%nlon, dyn%nrow), xs(2*nl + 1, dyn%tr%nspec), curl(nl, dyn%tr%nspec), &
              dv(nl, dyn%tr%nspec))
    sc(1:nl, :, :) = rows(dyn, t)
    sc(nl + 1:2*nl, :, :) = rows(dyn, q)
    sc(2*nl + 1:2*nl + 1, :, :) = rows(dyn, reshape(log(ps), [1, size(ps)]))
    ucos = rows(dyn, u)*cos_rows(dyn, nl)
    vcos = rows(dyn, v)*cos_rows(dyn, nl)
    call grid_to_spectral(dyn%tr, sc, xs, ucos, vcos, curl, dv)
    dyn%vor(:, dyn%own, now) = curl(:, dyn%own)
    dyn%div(:, dyn%own, now) = dv(:, dyn%own)
    dyn%t(:, dyn%own, now) = xs(1:nl, dyn%own)
    dyn%q(:, dyn%own, now) = xs(nl + 1:2*nl, dyn%own)
    dyn%lnps(:, dyn%own, now) = xs(2*nl + 1:2*nl + 1, dyn%own)
    if (.not. dyn%moist) dyn%q = 0
    call allgather_level(dyn, now)
    dyn%vor(:, :, old) = dyn%vor(:, :, now)
    dyn%div(:, :, old) = dyn%div(:, :, now)
    dyn%t(:, :, old) = dyn%t(:, :, now)
    dyn%q(:, :, old) = dyn%q(:, :, now)
    dyn%lnps(:, :, old) = dyn%lnps(:, :, now)
    dyn%first = .true.
  end subroutine dyn_spectral_set_state

  !> Collective: the dynamics steps of one physics step.
  subroutine dyn_spectral_run(dyn)
    type(dyn_spectral_t), intent(inout) :: dyn
    integer :: s
    do s = 1, dyn%nsub
      call leapfrog_step(dyn)
    end do
  end subroutine dyn_spectral_run

  !> The current state on this rank's columns: t, q, u, v (nlev, ncol) and ps (ncol).
  subroutine dyn_spectral_to_grid(dyn, t, q, u, v, ps)
    type(dyn_spectral_t), intent(in) :: dyn
    real(r8), intent(out) :: t(:, :), q(:, :), u(:, :), v(:, :), ps(:)
    real(r8), allocatable :: g(:, :, :), uc(:, :, :), vc(:, :, :), c(:, :, :)
    integer :: nl, nq
    nl = dyn%nlev
    nq = merge(nl, 0, dyn%moist)
    allocate (g(nl + nq + 1, dyn%nlon, dyn%nrow), uc(nl, dyn%nlon, dyn%nrow), vc(nl, dyn%nlon, dyn%nrow))
    call spectral_to_grid(dyn%tr, stack_now(dyn, dyn%moist), g)
    t = columns(g(1:nl, :, :))
    q = 0.0_r8
    if (dyn%moist) q = columns(g(nl + 1:2*nl, :, :))
    ps = reshape(exp(g(nl + nq + 1, :, :)), [dyn%ncol])
    call spectral_to_winds(dyn%tr, dyn%vor(:, :, now), dyn%div(:, :, now), uc, vc)
    c = cos_rows(dyn, nl)
    u = columns(uc/c)
    v = columns(vc/c)
  end subroutine dyn_spectral_to_grid

  !> Collective: add the increments dt_, dq, du, dv (nlev, ncol) of this rank's columns (the
  !! physics' change of the state) to the spectral state.
  subroutine dyn_spectral_add_increments(dyn, dt_, dq, du, dv)
    type(dyn_spectral_t), intent(inout) :: dyn
    real(r8), intent(in) :: dt_(:, :), dq(:, :), du(:, :), dv(:, :)
    real(r8), allocatable :: sc(:, :, :), ucos(:, :, :), vcos(:, :, :)
    complex(r8), allocatable :: xs(:, :), curl(:, :), dvg(:, :)
    integer :: nl, ns, lev
    nl = dyn%nlev
    ns = merge(2*nl, nl, dyn%moist)
    allocate (sc(ns, dyn%nlon, dyn%nrow), xs(ns, dyn%tr%nspec), curl(nl, dyn%tr%nspec), dvg(nl, dyn%tr%nspec))
    sc(1:nl, :, :) = rows(dyn, dt_)
    if (dyn%moist) sc(nl + 1:2*nl, :, :) = rows(dyn, dq)
    ucos = rows(dyn, du)*cos_rows(dyn, nl)
    vcos = rows(dyn, dv)*cos_rows(dyn, nl)
    call grid_to_spectral(dyn%tr, sc, xs, ucos, vcos, curl, dvg)
    ! Both time levels: the leapfrog advances two interleaved sequences (n-1, n+1, ... and
    ! n, n+2, ...), and each must carry every physics increment, or each would see the physics
    ! only every other step, at half its strength.
    do lev = old, now
      dyn%t(:, dyn%own, lev) = dyn%t(:, dyn%own, lev) + xs(1:nl, dyn%own)
      if (dyn%moist) dyn%q(:, dyn%own, lev) = dyn%q(:, dyn%own, lev) + xs(nl + 1:2*nl, dyn%own)
      dyn%vor(:, dyn%own, lev) = dyn%vor(:, dyn%own, lev) + curl(:, dyn%own)
      dyn%div(:, dyn%own, lev) = dyn%div(:, dyn%own, lev) + dvg(:, dyn%own)
    end do
    call allgather_level(dyn, now)
  end subroutine dyn_spectral_add_increments

  !> Collective: make the previous time level complete on every rank (for restart files).
  subroutine dyn_spectral_allgather_old(dyn)
    type(dyn_spectral_t), intent(inout) :: dyn
    call allgather_level(dyn, old)
  end subroutine dyn_spectral_allgather_old

  !> Collective: area-weighted global means of x(nq, ncol) over every rank's columns, summed
  !! in one fixed order (longitudes within a row, then rows north to south) on every rank.
  function dyn_spectral_global_mean(dyn, x) result(mean)
    type(dyn_spectral_t), intent(in) :: dyn
    real(r8), intent(in) :: x(:, :)
    real(r8) :: mean(size(x, 1))
    real(r8) :: own(size(x, 1), dyn%nrow), all(size(x, 1), dyn%tr%nlat)
    integer :: jj, i, j
    own = 0.0_r8
    do jj = 1, dyn%nrow
      do i = 1, dyn%nlon
        own(:, jj) = own(:, jj) + x(:, (jj - 1)*dyn%nlon + i)
      end do
    end do
    call row_allgather(dyn%tr, own, all)
    mean = 0.0_r8
    do j = 1, dyn%tr%nlat
      mean = mean + dyn%tr%leg%w(j)*all(:, j)
    end do
    mean = mean/(2.0_r8*dyn%nlon)
  end function dyn_spectral_global_mean

  !> One leapfrog step (the forward step when dyn%first).
  subroutine leapfrog_step(dyn)
    type(dyn_spectral_t), intent(inout) :: dyn
    real(r8), allocatable :: zd(:, :, :), uc(:, :, :), vc(:, :, :), g(:, :, :), gl(:, :, :), gm(:, :, :)
    real(r8), allocatable :: sc(:, :, :), fu(:, :, :), fv(:, :, :)
    complex(r8), allocatable :: xs(:, :), curl(:, :), dvg(:, :), vor_new(:, :), div_new(:, :), t_new(:, :), &
                                q_new(:, :), lnps_new(:, :)
    real(r8) :: span
    integer :: nl, nq, ns, jj, ii, i, nspec
    nl = dyn%nlev
    nspec = dyn%tr%nspec
    nq = merge(nl, 0, dyn%moist)
    ns = 2*nl + nq + 1   ! E, dT/dt, dq/dt, dlnps/dt

    ! Grid values of the current state on this rank's rows.
    allocate (zd(2*nl, dyn%nlon, dyn%nrow), uc(nl, dyn%nlon, dyn%nrow), vc(nl, dyn%nlon, dyn%nrow), &
              g(nl + nq + 1, dyn%nlon, dyn%nrow), gl(nl + nq + 1, dyn%nlon, dyn%nrow), gm(nl + nq + 1, dyn%nlon, dyn%nrow))
    allocate (xs(2*nl, nspec))
    xs(1:nl, :) = dyn%vor(:, :, now)
    xs(nl + 1:2*nl, :) = dyn%div(:, :, now)
    call spectral_to_grid(dyn%tr, xs, zd)
    deallocate (xs)
    call spectral_to_winds(dyn%tr, dyn%vor(:, :, now), dyn%div(:, :, now), uc, vc)
    call spectral_to_grid(dyn%tr, stack_now(dyn, dyn%moist), g, gl, gm)

    ! Explicit tendencies in grid space, row by row.
    allocate (sc(ns, dyn%nlon, dyn%nrow), fu(nl, dyn%nlon, dyn%nrow), fv(nl, dyn%nlon, dyn%nrow))
    do jj = 1, dyn%nrow
      call row_tendencies(dyn, jj, zd(1:nl, :, jj), zd(nl + 1:2*nl, :, jj), uc(:, :, jj), vc(:, :, jj), &
                          g(:, :, jj), gl(:, :, jj), gm(:, :, jj), sc(:, :, jj), fu(:, :, jj), fv(:, :, jj))
    end do
    allocate (xs(ns, nspec), curl(nl, nspec), dvg(nl, nspec))
    call grid_to_spectral(dyn%tr, sc, xs, fu, fv, curl, dvg)
    do ii = 1, size(dyn%own)
      i = dyn%own(ii)
      dvg(:, i) = dvg(:, i) - dyn%tr%leg%lap(i)*xs(1:nl, i)   ! - Laplacian(E)
    end do

    ! The new time level: semi-implicit for D, T, ln ps; explicit leapfrog for zeta and q.
    span = merge(0.5_r8*dyn%dt, dyn%dt, dyn%first)
    allocate (vor_new(nl, nspec), div_new(nl, nspec), t_new(nl, nspec), q_new(nl, nspec), lnps_new(1, nspec))
    vor_new = 0
    q_new = 0
    call semi_implicit_solve(dyn%si, dyn%own, dyn%tr%leg%n_of, dyn%first, dyn%div(:, :, old), dyn%t(:, :, old), &
                             dyn%lnps(:, :, old), dyn%div(:, :, now), dyn%t(:, :, now), dyn%lnps(:, :, now), dvg, &
                             xs(nl + 1:2*nl, :), xs(ns:ns, :), div_new, t_new, lnps_new)
    do ii = 1, size(dyn%own)
      i = dyn%own(ii)
      vor_new(:, i) = dyn%vor(:, i, old) + 2.0_r8*span*curl(:, i)
      if (dyn%moist) q_new(:, i) = dyn%q(:, i, old) + 2.0_r8*span*xs(2*nl + 1:2*nl + nq, i)
    end do
    call damp(dyn%dmp, dyn%own, span, .true., vor_new)
    call damp(dyn%dmp, dyn%own, span, .true., div_new)
    call damp(dyn%dmp, dyn%own, span, .false., t_new)
    if (dyn%moist) call damp(dyn%dmp, dyn%own, span, .false., q_new)

    call advance(dyn%vor, vor_new)
    call advance(dyn%div, div_new)
    call advance(dyn%t, t_new)
    if (dyn%moist) call advance(dyn%q, q_new)
    call advance(dyn%lnps, lnps_new)
    dyn%first = .false.
    call allgather_level(dyn, now)

  contains

    !> Time filter (not after the forward step), then old <- filtered now, now <- new.
    subroutine advance(x, x_new)
      complex(r8), intent(inout) :: x(:, :, :), x_new(:, :)
      complex(r8) :: d(size(x, 1))
      integer :: kk, ix
      do kk = 1, size(dyn%own)
        ix = dyn%own(kk)
        if (.not. dyn%first) then
          d = 0.5_r8*robert_nu*(x(:, ix, old) - 2.0_r8*x(:, ix, now) + x_new(:, ix))
          x(:, ix, now) = x(:, ix, now) + williams_alpha*d
          x_new(:, ix) = x_new(:, ix) - (1.0_r8 - williams_alpha)*d
        end if
        x(:, ix, old) = x(:, ix, now)
        x(:, ix, now) = x_new(:, ix)
      end do
    end subroutine advance
  end subroutine leapfrog_step

  !> Explicit tendencies of row jj from its grid values (nlev, nlon): vorticity zeta,
  !! divergence dv, U and V, and g/gl/gm = the fields T, q (when moist), ln ps and their
  !! lambda- and (1-mu^2) mu-derivatives stacked as in stack_now. Out: sc = E, dT/dt, dq/dt,
  !! dlnps/dt stacked, and the vector (F_U, F_V).
  subroutine row_tendencies(dyn, jj, zeta, dv, u, v, g, gl, gm, sc, fu, fv)
    type(dyn_spectral_t), intent(in) :: dyn
    integer, intent(in) :: jj
    real(r8), intent(in) :: zeta(:, :), dv(:, :), u(:, :), v(:, :), g(:, :), gl(:, :), gm(:, :)
    real(r8), intent(out) :: sc(:, :), fu(:, :), fv(:, :)
    real(r8), dimension(dyn%nlev, dyn%nlon) :: dp, lnr, alpha, c, vgp, delta, omega_p, phi, adv_t, adv_u, adv_v, &
                                               adv_q
    real(r8) :: p_half(0:dyn%nlev, dyn%nlon), mass_flux(0:dyn%nlev, dyn%nlon), ps(dyn%nlon)
    real(r8) :: acos2, f, running, above
    integer :: nl, nq, i, k, ip
    nl = dyn%nlev
    nq = merge(nl, 0, dyn%moist)
    ip = nl + nq + 1                       ! ln ps in the stack
    acos2 = rearth*dyn%cos2(jj)
    f = 2.0_r8*omega*dyn%mu(jj)
    ps = exp(g(ip, :))
    call layer_geometry(dyn%vert, ps, p_half, dp, lnr, alpha, c)
    do i = 1, dyn%nlon
      do k = 1, nl
        vgp(k, i) = (u(k, i)*gl(ip, i) + v(k, i)*gm(ip, i))/acos2
        delta(k, i) = dv(k, i)*dp(k, i) + (dyn%vert%b_half(k) - dyn%vert%b_half(k - 1))*ps(i)*vgp(k, i)
      end do
      ! Continuity: dlnps/dt, the mass flux across half levels and omega/p.
      sc(2*nl + nq + 1, i) = -sum(delta(:, i))/ps(i)
      mass_flux(0, i) = 0.0_r8
      running = 0.0_r8
      do k = 1, nl - 1
        running = running + delta(k, i)
        mass_flux(k, i) = -dyn%vert%b_half(k)*ps(i)*sc(2*nl + nq + 1, i) - running
      end do
      mass_flux(nl, i) = 0.0_r8
      above = 0.0_r8
      do k = 1, nl
        omega_p(k, i) = c(k, i)*vgp(k, i) - (lnr(k, i)*above + alpha(k, i)*delta(k, i))/dp(k, i)
        above = above + delta(k, i)
      end do
    end do
    call vertical_advection(g(1:nl, :), mass_flux, dp, adv_t)
    call vertical_advection(u, mass_flux, dp, adv_u)
    call vertical_advection(v, mass_flux, dp, adv_v)
    call geopotential(g(1:nl, :), lnr, alpha, phi)
    ! E, dT/dt and the momentum vector.
    sc(1:nl, :) = (u**2 + v**2)/(2.0_r8*dyn%cos2(jj)) + phi
    sc(nl + 1:2*nl, :) = -(u*gl(1:nl, :) + v*gm(1:nl, :))/acos2 - adv_t + cappa*g(1:nl, :)*omega_p
    do i = 1, dyn%nlon
      fu(:, i) = (zeta(:, i) + f)*v(:, i) - adv_u(:, i) - rair*g(1:nl, i)*c(:, i)*gl(ip, i)/rearth
      fv(:, i) = -(zeta(:, i) + f)*u(:, i) - adv_v(:, i) - rair*g(1:nl, i)*c(:, i)*gm(ip, i)/rearth
    end do
    if (dyn%moist) then
      call vertical_advection(g(nl + 1:2*nl, :), mass_flux, dp, adv_q)
      sc(2*nl + 1:2*nl + nq, :) = -(u*gl(nl + 1:2*nl, :) + v*gm(nl + 1:2*nl, :))/acos2 - adv_q
    end if
  end subroutine row_tendencies

  !> T, q (when moist) and ln ps at the current time stacked as one set of lines.
  function stack_now(dyn, with_q) result(x)
    type(dyn_spectral_t), intent(in) :: dyn
    logical, intent(in) :: with_q
    complex(r8), allocatable :: x(:, :)
    integer :: nl, nq
    nl = dyn%nlev
    nq = merge(nl, 0, with_q)
    allocate (x(nl + nq + 1, dyn%tr%nspec))
    x(1:nl, :) = dyn%t(:, :, now)
    if (with_q) x(nl + 1:2*nl, :) = dyn%q(:, :, now)
    x(nl + nq + 1, :) = dyn%lnps(1, :, now)
  end function stack_now

  !> Collective: all fields of time level lev to every rank, in one message.
  subroutine allgather_level(dyn, lev)
    type(dyn_spectral_t), intent(inout) :: dyn
    integer, intent(in) :: lev
    complex(r8), allocatable :: x(:, :)
    integer :: nl
    nl = dyn%nlev
    allocate (x(4*nl + 1, dyn%tr%nspec))
    x(1:nl, :) = dyn%vor(:, :, lev)
    x(nl + 1:2*nl, :) = dyn%div(:, :, lev)
    x(2*nl + 1:3*nl, :) = dyn%t(:, :, lev)
    x(3*nl + 1:4*nl, :) = dyn%q(:, :, lev)
    x(4*nl + 1, :) = dyn%lnps(1, :, lev)
    call spectral_allgather(dyn%tr, x)
    dyn%vor(:, :, lev) = x(1:nl, :)
    dyn%div(:, :, lev) = x(nl + 1:2*nl, :)
    dyn%t(:, :, lev) = x(2*nl + 1:3*nl, :)
    dyn%q(:, :, lev) = x(3*nl + 1:4*nl, :)
    dyn%lnps(1, :, lev) = x(4*nl + 1, :)
  end subroutine allgather_level

  !> This rank's columns x(n, ncol) as rows (n, nlon, nrow): the same order in memory.
  pure function rows(dyn, x) result(g)
    type(dyn_spectral_t), intent(in) :: dyn
    real(r8), intent(in) :: x(:, :)
    real(r8) :: g(size(x, 1), dyn%nlon, dyn%nrow)
    g = reshape(x, [size(x, 1), dyn%nlon, dyn%nrow])
  end function rows

  !> Rows g(n, nlon, nrow) as columns (n, ncol).
  pure function columns(g) result(x)
    real(r8), intent(in) :: g(:, :, :)
    real(r8) :: x(size(g, 1), size(g, 2)*size(g, 3))
    x = reshape(g, [size(g, 1), size(g, 2)*size(g, 3)])
  end function columns

  !> cos(latitude) of this rank's rows as (n, nlon, nrow).
  pure function cos_rows(dyn, n) result(c)
    type(dyn_spectral_t), intent(in) :: dyn
    integer, intent(in) :: n
    real(r8) :: c(n, dyn%nlon, dyn%nrow)
    integer :: jj
    do jj = 1, dyn%nrow
      c(:, :, jj) = sqrt(dyn%cos2(jj))
    end do
  end function cos_rows
end module dyn_spectral
