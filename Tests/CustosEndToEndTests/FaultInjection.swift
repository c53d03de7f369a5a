import CustosTestSupport
import Testing

/// Faults injected into the real binary by a small library it is started with (`LD_PRELOAD`):
/// a system call fails only where a test says, on the file it names.
enum FaultInjection {
    /// Compiles `body` into a library to preload; `ends_with(fd, suffix)` tells whether the
    /// descriptor's path ends with `suffix`.
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
            static int ends_with(int fd, const char *suffix) {
                char link[64], target[4096];
                snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                ssize_t n = readlink(link, target, sizeof target - 1);
                size_t length = strlen(suffix);
                if (n < (ssize_t)length) return 0;
                target[n] = 0;
                return strcmp(target + n - length, suffix) == 0;
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
}
