!> File-system helpers over the C library: create folders, rename atomically.
module host_files
  use iso_c_binding, only: c_char, c_int, c_null_char
  implicit none
  private
  public :: make_dirs, rename_file

  interface
    integer(c_int) function c_mkdir(path, mode) bind(c, name='mkdir')
      import :: c_char, c_int
      character(kind=c_char), intent(in) :: path(*)
      integer(c_int), value :: mode
    end function c_mkdir
    integer(c_int) function c_rename(old, new) bind(c, name='rename')
      import :: c_char, c_int
      character(kind=c_char), intent(in) :: old(*), new(*)
    end function c_rename
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
    if (c_rename(trim(old)//c_null_char, trim(new)//c_null_char) /= 0) &
      error stop "hybridge-host: cannot rename '"//trim(old)//"' to '"//trim(new)//"'"
  end subroutine rename_file
end module host_files
