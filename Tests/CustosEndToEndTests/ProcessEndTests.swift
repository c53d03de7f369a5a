import CustosTestSupport
import Foundation
import Testing

/// custos ends without running the libraries' exit-time handlers (OpenSSL's `OPENSSL_cleanup`,
/// C++ static destructors): they free state that the process's other threads may still use. CI
/// met it once: a refused `custos daemon` wrote its refusal, then ended by SIGSEGV (status 139
/// where a refusal exits 2). `FaultInjection.announcingExitHandlers` shows those registered
/// through `atexit` or `__cxa_atexit` that run; each test first sees that one was registered.
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
        let environment = ["LD_PRELOAD": try FaultInjection.announcingExitHandlers(node)]
        let result = try run(custosBinary, ["daemon", "--vault", node.vault], environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("/nonexistent/ca.pem"), "\(result.stderr)")
        #expect(result.stderr.contains(FaultInjection.exitHandlerRegistered), "\(result.stderr)")
        #expect(!result.stderr.contains(FaultInjection.exitHandlerRan), "\(result.stderr)")
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
        let environment = ["LD_PRELOAD": try FaultInjection.announcingExitHandlers(node)]
        let result = try run(custosBinary, arguments + ["--vault", node.vault], environment: environment)
        #expect(result.status == status, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(FaultInjection.exitHandlerRegistered), "\(arguments): \(result.stderr)")
        #expect(!result.stderr.contains(FaultInjection.exitHandlerRan), "\(arguments): \(result.stderr)")
    }
}

extension DaemonSuites {
    @Suite("custos daemon ends without the libraries' exit-time handlers", .serialized)
    struct DaemonEndTests {
        /// SIGTERM: the services stop, exit 0, nothing run at exit.
        @Test func aDaemonStoppedBySIGTERMExits0() throws {
            let node = try Node()
            let daemon = try RunningDaemon(
                node, environment: ["LD_PRELOAD": try FaultInjection.announcingExitHandlers(node)])
            #expect(daemon.stop() == 0, "\(daemon.log)")
            #expect(daemon.log.contains("custos daemon stopped"), "\(daemon.log)")
            #expect(daemon.log.contains(FaultInjection.exitHandlerRegistered), "\(daemon.log)")
            #expect(!daemon.log.contains(FaultInjection.exitHandlerRan), "\(daemon.log)")
        }
    }
}
