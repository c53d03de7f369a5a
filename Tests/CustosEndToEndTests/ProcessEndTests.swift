import CustosTestSupport
import Foundation
import Testing

/// custos ends without running the libraries' exit-time handlers (OpenSSL's `OPENSSL_cleanup`,
/// C++ static destructors): they free state that the process's other threads may still use. CI
/// met it once: a refused `custos daemon` wrote its refusal, then ended by SIGSEGV (status 139
/// where a refusal exits 2). The preloaded `__cxa_atexit` (through which `atexit` registers too)
/// wraps every handler so that it says so on standard error when it runs.
enum ExitTimeHandlers {
    static let marker = "[an exit-time handler ran]"

    static func announced(_ node: Node) throws -> String {
        try FaultInjection.preload(
            node, "announce-exit-handlers",
            """
            #define SLOTS 512
            static struct { void (*handler)(void *); void *argument; } registered[SLOTS];
            static int count;
            static void announce(void *slot) {
                static const char marker[] = "\(marker)\\n";
                write(2, marker, sizeof marker - 1);
                long index = (long)slot;
                registered[index].handler(registered[index].argument);
            }
            int __cxa_atexit(void (*handler)(void *), void *argument, void *dso) {
                int (*real)(void (*)(void *), void *, void *) = dlsym(RTLD_NEXT, "__cxa_atexit");
                long index = __atomic_fetch_add(&count, 1, __ATOMIC_SEQ_CST);
                if (index >= SLOTS) return real(handler, argument, dso);
                registered[index].handler = handler;
                registered[index].argument = argument;
                return real(announce, (void *)index, dso);
            }
            """)
    }
}

@Suite("custos ends without the libraries' exit-time handlers")
struct ProcessEndTests {
    /// The case CI met: a daemon refused at start (its start-up thread ending as the process does).
    @Test func aDaemonRefusedAtStartExits2() throws {
        let node = try Node()
        _ = try node.directory.write(
            "vault/custos-daemon.yaml",
            """
            timestamp-authorities:
              independent:
                url: http://127.0.0.1:9/tsr
                anchors: /nonexistent/ca.pem
            """)
        let environment = ["LD_PRELOAD": try ExitTimeHandlers.announced(node)]
        let result = try run(custosBinary, ["daemon", "--vault", node.vault], environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("/nonexistent/ca.pem"), "\(result.stderr)")
        #expect(!result.stderr.contains(ExitTimeHandlers.marker), "\(result.stderr)")
    }

    /// Commands that end well, with a refusal, or with bad usage.
    @Test(
        arguments: [
            (["verify"], 0), (["list", "--json"], 0), (["show", "no-such-item"], 2), (["--version"], 0),
            (["no-such-command"], 2),
        ] as [([String], Int32)])
    func aCommandEndsWithoutThem(arguments: [String], status: Int32) throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.txt", "a")]).status == 0)
        let environment = ["LD_PRELOAD": try ExitTimeHandlers.announced(node)]
        let result = try run(custosBinary, arguments + ["--vault", node.vault], environment: environment)
        #expect(result.status == status, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.contains(ExitTimeHandlers.marker), "\(arguments): \(result.stderr)")
    }
}

extension DaemonSuites {
    @Suite("custos daemon ends without the libraries' exit-time handlers", .serialized)
    struct DaemonEndTests {
        /// SIGTERM: the services stop, a last checkpoint is signed, exit 0, nothing run at exit.
        @Test func aDaemonStoppedBySIGTERMExits0() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node, environment: ["LD_PRELOAD": try ExitTimeHandlers.announced(node)])
            #expect(daemon.stop() == 0, "\(daemon.log)")
            #expect(daemon.log.contains("custos daemon stopped"), "\(daemon.log)")
            #expect(!daemon.log.contains(ExitTimeHandlers.marker), "\(daemon.log)")
        }
    }
}
