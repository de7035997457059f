!> SHA-256 (FIPS 180-4) of the data a restart file holds, through the EVP interface of
!! OpenSSL's libcrypto (the library the engine already uses for model checksums).
!!
!! What is hashed, variable by variable in the order they were defined: the variable's name,
!! one NUL byte, then its values in netCDF storage order as IEEE little-endian bytes (real64,
!! int32 or int64, as stored). host_restart_check recomputes it from the file at read, so a
!! flipped byte anywhere in the data is found; tests/host/test_host_hostile.py recomputes it
!! with Python's hashlib from this definition.
module host_checksum
  use, intrinsic :: iso_c_binding, only: c_char, c_int, c_null_ptr, c_ptr, c_associated, c_size_t
  use, intrinsic :: iso_fortran_env, only: int8, int32, int64, real64
  use host_abort, only: abort_run
  implicit none (type, external)
  private
  public :: sha256_init, sha256_add_name, sha256_add, sha256_hex

  !> A running SHA-256 computation.
  type, public :: sha256_t
    type(c_ptr) :: ctx = c_null_ptr
  end type sha256_t

  interface sha256_add
    module procedure add_real64, add_int32, add_int64
  end interface sha256_add

  interface
    type(c_ptr) function evp_md_ctx_new() bind(c, name='EVP_MD_CTX_new')
      import :: c_ptr
      implicit none (type, external)
    end function evp_md_ctx_new
    subroutine evp_md_ctx_free(ctx) bind(c, name='EVP_MD_CTX_free')
      import :: c_ptr
      implicit none (type, external)
      type(c_ptr), value :: ctx
    end subroutine evp_md_ctx_free
    type(c_ptr) function evp_sha256() bind(c, name='EVP_sha256')
      import :: c_ptr
      implicit none (type, external)
    end function evp_sha256
    integer(c_int) function evp_digestinit_ex(ctx, md, engine) bind(c, name='EVP_DigestInit_ex')
      import :: c_int, c_ptr
      implicit none (type, external)
      type(c_ptr), value :: ctx, md, engine
    end function evp_digestinit_ex
    integer(c_int) function evp_digestupdate(ctx, bytes, nbytes) bind(c, name='EVP_DigestUpdate')
      import :: c_int, c_ptr, c_size_t
      implicit none (type, external)
      type(c_ptr), value :: ctx
      type(*), intent(in) :: bytes(*)
      integer(c_size_t), value :: nbytes
    end function evp_digestupdate
    integer(c_int) function evp_digestfinal_ex(ctx, md, md_len) bind(c, name='EVP_DigestFinal_ex')
      import :: c_char, c_int, c_ptr
      implicit none (type, external)
      type(c_ptr), value :: ctx
      character(kind=c_char), intent(out) :: md(*)
      type(c_ptr), value :: md_len
    end function evp_digestfinal_ex
  end interface

  !> The byte order of this machine; values are hashed little-endian everywhere.
  logical, parameter :: big_endian = transfer(1_int32, 0_int8) == 0_int8

contains

  subroutine sha256_init(h)
    type(sha256_t), intent(out) :: h
    h%ctx = evp_md_ctx_new()
    if (.not. c_associated(h%ctx)) call abort_run('libcrypto: EVP_MD_CTX_new failed')
    if (evp_digestinit_ex(h%ctx, evp_sha256(), c_null_ptr) /= 1) call abort_run('libcrypto: EVP_DigestInit_ex(SHA-256) failed')
  end subroutine sha256_init

  !> A variable's name and the NUL that ends it.
  subroutine sha256_add_name(h, name)
    type(sha256_t), intent(inout) :: h
    character(*), intent(in) :: name
    call update(h, transfer(name//achar(0), [0_int8], len(name) + 1))
  end subroutine sha256_add_name

  subroutine add_real64(h, x)
    type(sha256_t), intent(inout) :: h
    real(real64), intent(in) :: x(:)
    call update(h, little_endian(transfer(x, [0_int8], 8*size(x)), 8))
  end subroutine add_real64

  subroutine add_int32(h, x)
    type(sha256_t), intent(inout) :: h
    integer(int32), intent(in) :: x(:)
    call update(h, little_endian(transfer(x, [0_int8], 4*size(x)), 4))
  end subroutine add_int32

  subroutine add_int64(h, x)
    type(sha256_t), intent(inout) :: h
    integer(int64), intent(in) :: x(:)
    call update(h, little_endian(transfer(x, [0_int8], 8*size(x)), 8))
  end subroutine add_int64

  !> The digest as 64 lower-case hex digits; h is finished and freed.
  function sha256_hex(h) result(hex)
    type(sha256_t), intent(inout) :: h
    character(64) :: hex
    character(kind=c_char) :: md(32)
    integer :: i
    if (evp_digestfinal_ex(h%ctx, md, c_null_ptr) /= 1) call abort_run('libcrypto: EVP_DigestFinal_ex failed')
    call evp_md_ctx_free(h%ctx)
    h%ctx = c_null_ptr
    do i = 1, 32
      write (hex(2*i - 1:2*i), '(z2.2)') ichar(md(i))
    end do
    hex = lower(hex)
  end function sha256_hex

  subroutine update(h, bytes)
    type(sha256_t), intent(inout) :: h
    integer(int8), intent(in) :: bytes(:)
    if (size(bytes) == 0) return
    if (evp_digestupdate(h%ctx, bytes, int(size(bytes), c_size_t)) /= 1) call abort_run('libcrypto: EVP_DigestUpdate failed')
  end subroutine update

  !> bytes of elements of width bytes each, in little-endian order.
  function little_endian(bytes, width) result(le)
    integer(int8), intent(in) :: bytes(:)
    integer, intent(in) :: width
    integer(int8) :: le(size(bytes))
    integer :: i
    le = bytes
    if (.not. big_endian) return
    do i = 1, size(bytes), width
      le(i:i + width - 1) = bytes(i + width - 1:i:-1)
    end do
  end function little_endian

  pure function lower(s) result(t)
    character(*), intent(in) :: s
    character(len(s)) :: t
    integer :: i
    t = s
    do i = 1, len(s)
      if (s(i:i) >= 'A' .and. s(i:i) <= 'F') t(i:i) = achar(iachar(s(i:i)) + 32)
    end do
  end function lower
end module host_checksum
