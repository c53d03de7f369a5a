#define _GNU_SOURCE
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "csystem.h"

int custos_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

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
