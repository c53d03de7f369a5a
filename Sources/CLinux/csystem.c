#define _GNU_SOURCE
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/stat.h>

#include "csystem.h"

int custos_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

int custos_renameat_noreplace(int from_directory, const char *from, int to_directory, const char *to) {
    return renameat2(from_directory, from, to_directory, to, RENAME_NOREPLACE);
}

int custos_open_beneath(int directory, const char *path, int flags, unsigned int mode) {
    struct open_how how = {0};
    how.flags = (unsigned long long)flags;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long result;
    int tries = 0;
    // EAGAIN: a rename elsewhere raced the resolution of `..`; the kernel asks for a retry.
    do {
        result = syscall(SYS_openat2, directory, path, &how, sizeof how);
    } while (result < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 64);
    return (int)result;
}

int custos_o_path(void) { return O_PATH; }

int custos_syncfs(int fd) { return syncfs(fd); }

int custos_open_for_writing(int fd) {
    if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        fcntl(fd, F_SETLEASE, F_UNLCK);
        return 0;
    }
    if (errno == EAGAIN || errno == EBUSY) return 1;
    return -1;
}

void custos_release_free_memory(void) { malloc_trim(0); }

void custos_limit_malloc_arenas(int count) { mallopt(M_ARENA_MAX, count); }

int custos_nice_this_thread(int value) { return setpriority(PRIO_PROCESS, (id_t)gettid(), value); }
