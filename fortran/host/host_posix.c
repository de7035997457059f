/* Operating-system services hybridge-host needs and standard Fortran lacks (host_files.f90
 * binds them): create a folder with its parents, list a folder, remove a file, the space left
 * on a file system, and the heap policy. POSIX only (the heap policy: glibc); every function
 * reports failure through its return value and, where it takes one, a message buffer
 * (strerror of errno). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static void set_message(char *msg, size_t msg_len, int err) {
  if (msg_len > 0) {
    (void)snprintf(msg, msg_len, "%s", strerror(err));
  }
}

/* mkdir -p: 0 on success (also when the folder exists), else errno with msg set. */
int hybridge_host_mkdir_p(const char *path, char *msg, size_t msg_len) {
  char buf[4096];
  size_t n = strlen(path);
  struct stat st;
  if (n == 0 || n >= sizeof buf) {
    set_message(msg, msg_len, ENAMETOOLONG);
    return ENAMETOOLONG;
  }
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      int err = errno;
      set_message(msg, msg_len, err);
      return err;
    }
    buf[i] = saved;
  }
  if (stat(path, &st) != 0) {
    int err = errno;
    set_message(msg, msg_len, err);
    return err;
  }
  if (!S_ISDIR(st.st_mode)) {
    set_message(msg, msg_len, ENOTDIR);
    return ENOTDIR;
  }
  return 0;
}

/* The names in folder dir (without "." and ".."), each followed by a NUL, into names.
 * Returns the number of bytes all names need (call again with a larger buffer when that
 * exceeds names_len; names is then left incomplete), or -errno when dir cannot be read. */
long long hybridge_host_list_dir(const char *dir, char *names, size_t names_len) {
  DIR *d = opendir(dir);
  if (d == NULL) return -(long long)errno;
  size_t used = 0;
  const struct dirent *e = NULL;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    size_t len = strlen(e->d_name) + 1;
    if (used + len <= names_len) memcpy(names + used, e->d_name, len);
    used += len;
  }
  closedir(d);
  return (long long)used;
}

/* remove(3): 0 on success, else errno with msg set. */
int hybridge_host_remove(const char *path, char *msg, size_t msg_len) {
  if (remove(path) == 0) return 0;
  int err = errno;
  set_message(msg, msg_len, err);
  return err;
}

/* Bytes an unprivileged writer may still use on the file system holding path (statvfs:
 * f_bavail * f_frsize): 0 on success, else errno. */
int hybridge_host_free_bytes(const char *path, long long *bytes) {
  struct statvfs s;
  if (statvfs(path, &s) != 0) return errno;
  *bytes = (long long)s.f_bavail * (long long)s.f_frsize;
  return 0;
}

/* Keep freed memory mapped: the spectral core allocates the same large work arrays every
 * time step, and glibc's default returns blocks above 128 KiB to the system at once, so each
 * step would fault all their pages in again. A job that sets a malloc parameter itself
 * (MALLOC_*_ or GLIBC_TUNABLES) keeps its own choice. The same policy as the engine's heap=keep. */
void hybridge_host_keep_heap(void) {
#if defined(__GLIBC__)
  const char *names[] = {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                         "MALLOC_MMAP_MAX_"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    if (getenv(names[i]) != NULL) return;
  }
  const char *tunables = getenv("GLIBC_TUNABLES");
  if (tunables != NULL && strstr(tunables, "glibc.malloc.") != NULL) return;
  (void)mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  (void)mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
}
