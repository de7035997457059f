!> File-system helpers over the C library: create folders, rename atomically, find the
!! ClimSim reference files.
module host_files
  use, intrinsic :: iso_c_binding, only: c_char, c_int, c_null_char, c_size_t, c_long
  implicit none (type, external)
  private
  public :: make_dirs, rename_file, locate_climsim_dir

  interface
    integer(c_int) function c_mkdir(path, mode) bind(c, name='mkdir')
      import :: c_char, c_int
      implicit none (type, external)
      character(kind=c_char), intent(in) :: path(*)
      integer(c_int), value :: mode
    end function c_mkdir
    integer(c_int) function c_rename(old, new) bind(c, name='rename')
      import :: c_char, c_int
      implicit none (type, external)
      character(kind=c_char), intent(in) :: old(*), new(*)
    end function c_rename
    integer(c_long) function c_readlink(path, buf, bufsiz) bind(c, name='readlink')
      import :: c_char, c_long, c_size_t
      implicit none (type, external)
      character(kind=c_char), intent(in) :: path(*)
      character(kind=c_char), intent(out) :: buf(*)
      integer(c_size_t), value :: bufsiz
    end function c_readlink
  end interface

contains

  !> mkdir -p: create path and its parents; existing folders are fine.
  subroutine make_dirs(path)
    character(*), intent(in) :: path
    integer :: i, rc
    logical :: exists
    do i = 2, len_trim(path) + 1
      if (i <= len_trim(path)) then
        if (path(i:i) /= '/') cycle
      end if
      rc = c_mkdir(path(1:i - 1)//c_null_char, int(o'755', c_int))
    end do
    inquire (file=trim(path)//'/.', exist=exists)
    if (.not. exists) error stop "hybridge-host: cannot create folder '"//trim(path)//"'"
  end subroutine make_dirs

  !> rename(2): atomic within one file system, so readers never see a half-written file.
  subroutine rename_file(old, new)
    character(*), intent(in) :: old, new
    if (c_rename(trim(old)//c_null_char, trim(new)//c_null_char) /= 0) then
      error stop "hybridge-host: cannot rename '"//trim(old)//"' to '"//trim(new)//"'"
    end if
  end subroutine rename_file

  !> Folder of the ClimSim grid and normalization files, the first of: the namelist's
  !! climsim_dir, $HYBRIDGE_CLIMSIM_DIR, <prefix>/share/hybridge/climsim beside an installed
  !! executable (<prefix>/bin), the copy in the source tree this executable was built from.
  !! An installed tree thus stays usable when it is moved, and a build tree needs nothing set.
  function locate_climsim_dir(namelist_dir, source_tree_dir) result(dir)
    character(*), intent(in) :: namelist_dir, source_tree_dir
    character(:), allocatable :: dir
    character(4096) :: buf
    integer :: n, env_status
    logical :: found
    if (len_trim(namelist_dir) > 0) then
      dir = trim(namelist_dir)
      return
    end if
    call get_environment_variable('HYBRIDGE_CLIMSIM_DIR', buf, n, env_status)
    if (env_status == 0 .and. n > 0) then
      dir = buf(1:n)
      return
    end if
    dir = source_tree_dir
    n = int(c_readlink('/proc/self/exe'//c_null_char, buf, int(len(buf), c_size_t)))
    if (n <= 0 .or. n >= len(buf)) return
    n = index(buf(1:n), '/', back=.true.)
    if (n <= 1) return
    inquire (file=buf(1:n - 1)//'/../share/hybridge/climsim/ClimSim_low-res_grid-info.nc', exist=found)
    if (found) dir = buf(1:n - 1)//'/../share/hybridge/climsim'
  end function locate_climsim_dir
end module host_files
