import CustosTestSupport
import Testing

/// Faults injected into the real binary by a small library it is started with (`LD_PRELOAD`):
/// a system call fails only where a test says, on the file it names.
enum FaultInjection {
    /// Compiles `body` into a library to preload; `ends_with(fd, suffix)` and
    /// `strstr_fd(fd, part)` tell whether the descriptor's path ends with, or holds, a text.
    static func preload(_ node: Node, _ name: String, _ body: String) throws -> String {
        let source = try node.directory.write(
            name + ".c",
            """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <errno.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/types.h>
            #include <unistd.h>
            /* The path of descriptor `fd`, NUL-terminated; its length, or 0. */
            static size_t fd_path(int fd, char *target, size_t size) {
                char link[64];
                snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                ssize_t n = readlink(link, target, size - 1);
                if (n <= 0) return 0;
                target[n] = 0;
                return (size_t)n;
            }
            static int ends_with(int fd, const char *suffix) {
                char target[4096];
                size_t n = fd_path(fd, target, sizeof target), length = strlen(suffix);
                return n >= length && strcmp(target + n - length, suffix) == 0;
            }
            static int strstr_fd(int fd, const char *part) {
                char target[4096];
                return fd_path(fd, target, sizeof target) > 0 && strstr(target, part) != NULL;
            }
            \(body)
            """)
        let library = node.directory.file(name + ".so")
        let compiled = try run("cc", ["-shared", "-fPIC", "-o", library, source, "-ldl"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        return library
    }

    /// Fails every write of the ledger's WAL with EIO once the file `trigger` exists.
    static func failingLedgerWrites(_ node: Node, onceExists trigger: String) throws -> String {
        try preload(
            node, "failwal",
            """
            ssize_t pwrite64(int fd, const void *buffer, size_t count, off_t offset) {
                if (access("\(trigger)", F_OK) == 0 && ends_with(fd, "ledger.sqlite-wal")) { errno = EIO; return -1; }
                return ((ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64"))(
                    fd, buffer, count, offset);
            }
            """)
    }

    /// Fails every write to a file under the vault's `tmp/` (the archive being written) with
    /// `errno` (a C name: ENOSPC, EIO).
    static func failingArchiveWrites(_ node: Node, errno: String) throws -> String {
        try preload(
            node, "fail-archive-\(errno.lowercased())",
            """
            ssize_t write(int fd, const void *buffer, size_t count) {
                if (strstr_fd(fd, "/vault/tmp/")) { errno = \(errno); return -1; }
                return ((ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write"))(fd, buffer, count);
            }
            """)
    }

    /// What a preloaded `announcingExitHandlers` writes on standard error when the process
    /// registers its first exit-time handler (the preload is in place, and there is a handler
    /// that `exit` would run), and for each such handler that runs.
    static let exitHandlerRegistered = "[an exit-time handler was registered]"
    static let exitHandlerRan = "[an exit-time handler ran]"

    /// Wraps every exit-time handler registered through `__cxa_atexit` (hence `atexit`:
    /// OpenSSL's `OPENSSL_cleanup`, C++ static destructors) so that it writes `exitHandlerRan` on
    /// standard error when it runs. Shared libraries' own destructors (`.fini_array`) are not
    /// seen.
    static func announcingExitHandlers(_ node: Node) throws -> String {
        try preload(
            node, "announce-exit-handlers",
            """
            #define SLOTS 512
            static struct { void (*handler)(void *); void *argument; } registered[SLOTS];
            static int count;
            static void announce(void *slot) {
                static const char marker[] = "\(exitHandlerRan)\\n";
                write(2, marker, sizeof marker - 1);
                long index = (long)slot;
                registered[index].handler(registered[index].argument);
            }
            int __cxa_atexit(void (*handler)(void *), void *argument, void *dso) {
                int (*real)(void (*)(void *), void *, void *) = dlsym(RTLD_NEXT, "__cxa_atexit");
                long index = __atomic_fetch_add(&count, 1, __ATOMIC_SEQ_CST);
                if (index == 0) {
                    static const char first[] = "\(exitHandlerRegistered)\\n";
                    write(2, first, sizeof first - 1);
                }
                if (index >= SLOTS) return real(handler, argument, dso);
                registered[index].handler = handler;
                registered[index].argument = argument;
                return real(announce, (void *)index, dso);
            }
            """)
    }
}
