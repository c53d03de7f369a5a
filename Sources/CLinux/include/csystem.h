#ifndef CUSTOS_CSYSTEM_H
#define CUSTOS_CSYSTEM_H

/// Linux calls that glibc declares only under _GNU_SOURCE, which Swift's Glibc module does not see.

/// renameat2(RENAME_NOREPLACE): renames `from` to `to` only when `to` does not exist (EEXIST otherwise).
int custos_rename_noreplace(const char *from, const char *to);

/// renameat2(RENAME_NOREPLACE) relative to two directory descriptors.
int custos_renameat_noreplace(int from_directory, const char *from, int to_directory, const char *to);

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: opens `path`
/// below `directory`, failing with EXDEV when it would leave it (`..`, an absolute path) and with
/// ELOOP when any component is a symbolic link. A file system mounted below it (by someone with
/// the right to mount) is crossed: its files are sealed, and stay where they are. `mode` is used only with O_CREAT. Linux 5.6+.
int custos_open_beneath(int directory, const char *path, int flags, unsigned int mode);

/// O_PATH (a descriptor that only names a file or folder, for the *at calls).
int custos_o_path(void);

/// syncfs(2) on the file system holding the open file `fd`; reports write-back errors (Linux 5.8+).
int custos_syncfs(int fd);

/// Whether some process holds the file open for writing: a read lease (F_SETLEASE, F_RDLCK) is
/// refused with EAGAIN exactly then. Returns 1 (open for writing), 0 (not), or -1 when leases are
/// unavailable here (not the owner without CAP_LEASE, a network file system); errno says why.
int custos_open_for_writing(int fd);

/// malloc_trim(0): hands the pages glibc keeps free in its per-thread arenas back to the kernel.
void custos_release_free_memory(void);

/// mallopt(M_ARENA_MAX, count): at most `count` malloc arenas for the process's threads.
void custos_limit_malloc_arenas(int count);

/// Lowers the calling thread's CPU priority to nice `value` (Linux nices each thread on its own).
/// Returns 0, or -1 with errno.
int custos_nice_this_thread(int value);

#endif
