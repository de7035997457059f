!> File-system helpers over the C library and host_posix.c: create folders, rename
!! atomically, remove files, list a folder, the space left on a device, and find the ClimSim
!! reference files; and the heap policy (keep_heap). Failures stop the run with a message naming the path and the reason.
module host_files
  use, intrinsic :: iso_c_binding, only: c_char, c_int, c_long, c_long_long, c_null_char, c_size_t
  use, intrinsic :: iso_fortran_env, only: output_unit
  use host_abort, only: abort_run
  implicit none (type, external)
  private
  public :: make_dirs, rename_file, remove_file, list_dir, free_bytes, locate_climsim_dir, &
            remove_stale_temporaries, keep_heap

  integer, parameter :: msg_len = 256
  integer, parameter, public :: name_max = 255   !< longest file name (POSIX NAME_MAX)

  interface
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
    integer(c_int) function c_mkdir_p(path, msg, msg_size) bind(c, name='hybridge_host_mkdir_p')
      import :: c_char, c_int, c_size_t
      implicit none (type, external)
      character(kind=c_char), intent(in) :: path(*)
      character(kind=c_char), intent(out) :: msg(*)
      integer(c_size_t), value :: msg_size
    end function c_mkdir_p
    integer(c_long_long) function c_list_dir(dir, names, names_size) bind(c, name='hybridge_host_list_dir')
      import :: c_char, c_long_long, c_size_t
      implicit none (type, external)
      character(kind=c_char), intent(in) :: dir(*)
      character(kind=c_char), intent(out) :: names(*)
      integer(c_size_t), value :: names_size
    end function c_list_dir
    integer(c_int) function c_remove(path, msg, msg_size) bind(c, name='hybridge_host_remove')
      import :: c_char, c_int, c_size_t
      implicit none (type, external)
      character(kind=c_char), intent(in) :: path(*)
      character(kind=c_char), intent(out) :: msg(*)
      integer(c_size_t), value :: msg_size
    end function c_remove
    !> Keep freed memory mapped (host_posix.c).
    subroutine keep_heap() bind(c, name='hybridge_host_keep_heap')
      implicit none (type, external)
    end subroutine keep_heap
    integer(c_int) function c_free_bytes(path, bytes) bind(c, name='hybridge_host_free_bytes')
      import :: c_char, c_int, c_long_long
      implicit none (type, external)
      character(kind=c_char), intent(in) :: path(*)
      integer(c_long_long), intent(out) :: bytes
    end function c_free_bytes
  end interface

contains

  !> mkdir -p: create path and its parents; existing folders are fine.
  subroutine make_dirs(path)
    character(*), intent(in) :: path
    character(kind=c_char) :: msg(msg_len)
    if (c_mkdir_p(trim(path)//c_null_char, msg, int(msg_len, c_size_t)) /= 0) then
      call abort_run("cannot create folder '"//trim(path)//"': "//c_message(msg))
    end if
  end subroutine make_dirs

  !> rename(2): atomic within one file system, so readers never see a half-written file.
  subroutine rename_file(old, new)
    character(*), intent(in) :: old, new
    if (c_rename(trim(old)//c_null_char, trim(new)//c_null_char) /= 0) then
      call abort_run("cannot rename '"//trim(old)//"' to '"//trim(new)//"'")
    end if
  end subroutine rename_file

  !> Remove a file; ok = .false. and errmsg says why when that fails.
  subroutine remove_file(path, ok, errmsg)
    character(*), intent(in) :: path
    logical, intent(out) :: ok
    character(:), allocatable, intent(out) :: errmsg
    character(kind=c_char) :: msg(msg_len)
    ok = c_remove(trim(path)//c_null_char, msg, int(msg_len, c_size_t)) == 0
    errmsg = ''
    if (.not. ok) errmsg = c_message(msg)
  end subroutine remove_file

  !> The names of the entries of folder dir (not . and ..); ok = .false. if it cannot be read.
  subroutine list_dir(dir, names, ok)
    character(*), intent(in) :: dir
    character(name_max), allocatable, intent(out) :: names(:)
    logical, intent(out) :: ok
    character(kind=c_char), allocatable :: buf(:)
    integer(c_long_long) :: need
    integer :: i, start, n
    allocate (buf(4096))
    do
      need = c_list_dir(trim(dir)//c_null_char, buf, int(size(buf), c_size_t))
      if (need <= size(buf, kind=c_long_long)) exit
      deallocate (buf)
      allocate (buf(need))
    end do
    ok = need >= 0
    if (.not. ok) need = 0
    ! Count the NUL-terminated names, then copy them out.
    n = count(buf(1:need) == c_null_char)
    allocate (names(n))
    n = 0
    start = 1
    do i = 1, int(need)
      if (buf(i) /= c_null_char) cycle
      n = n + 1
      names(n) = transfer(buf(start:i - 1), repeat(' ', i - start))
      start = i + 1
    end do
  end subroutine list_dir

  !> Bytes left for an ordinary writer on the file system holding path; -1 if unknown.
  integer(c_long_long) function free_bytes(path)
    character(*), intent(in) :: path
    if (c_free_bytes(trim(path)//c_null_char, free_bytes) /= 0) free_bytes = -1
  end function free_bytes

  !> Files are written as <name>.tmp and renamed when complete (host_ncfile), so a run that
  !! was killed may have left <case>.*.nc.tmp files in output_dir or its YYYY-MM folders.
  !! They are never complete; remove them, each with a note in the log. Only this case's
  !! names are touched: another case may be writing to the same folder.
  subroutine remove_stale_temporaries(output_dir, case_name)
    character(*), intent(in) :: output_dir, case_name
    character(name_max), allocatable :: names(:), sub(:)
    character(:), allocatable :: errmsg
    logical :: ok, removed
    integer :: i, j
    call list_dir(output_dir, names, ok)
    if (.not. ok) return
    do i = 1, size(names)
      call consider(output_dir//'/'//trim(names(i)), names(i))
      if (.not. is_month_folder(trim(names(i)))) cycle
      call list_dir(output_dir//'/'//trim(names(i)), sub, ok)
      if (.not. ok) cycle
      do j = 1, size(sub)
        call consider(output_dir//'/'//trim(names(i))//'/'//trim(sub(j)), sub(j))
      end do
    end do

  contains

    subroutine consider(path, name)
      character(*), intent(in) :: path, name
      integer :: n
      n = len_trim(name)
      if (n < len(case_name) + 8) return
      if (name(1:len(case_name) + 1) /= case_name//'.' .or. name(n - 6:n) /= '.nc.tmp') return
      call remove_file(path, removed, errmsg)
      if (removed) then
        write (output_unit, '(a)') "hybridge-host: note: removed stale temporary file '"//path// &
          "' (left incomplete by an interrupted run)"
      else
        write (output_unit, '(a)') "hybridge-host: note: stale temporary file '"//path// &
          "' (left incomplete by an interrupted run) could not be removed: "//errmsg//'; it is ignored'
      end if
    end subroutine consider

    logical function is_month_folder(name)
      character(*), intent(in) :: name
      is_month_folder = len(name) == 7
      if (is_month_folder) is_month_folder = verify(name(1:4)//name(6:7), '0123456789') == 0 .and. name(5:5) == '-'
    end function is_month_folder
  end subroutine remove_stale_temporaries

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
    ! Taken at its full length, however long: a cut path would name another folder.
    call get_environment_variable('HYBRIDGE_CLIMSIM_DIR', length=n, status=env_status)
    if (env_status == 0 .and. n > 0) then
      allocate (character(n) :: dir)
      call get_environment_variable('HYBRIDGE_CLIMSIM_DIR', dir)
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

  !> A NUL-terminated C message as a Fortran string.
  function c_message(msg) result(text)
    character(kind=c_char), intent(in) :: msg(:)
    character(:), allocatable :: text
    integer :: n
    n = 0
    do while (n < size(msg))
      if (msg(n + 1) == c_null_char) exit
      n = n + 1
    end do
    text = transfer(msg(1:n), repeat(' ', n))
  end function c_message
end module host_files
