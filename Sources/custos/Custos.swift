import ArgumentParser
import CustosCustody
import Foundation
import Glibc
import Logging

@main
struct Custos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "custos",
        abstract: "Digital evidence preservation: seal files, keep a tamper-evident ledger, prove it.",
        discussion: """
            Exit status: 0 when all is well, 1 when verification finds a fault, 2 for bad usage, a \
            refused input, or output that could not be written. `custos help COMMAND` or \
            `custos COMMAND --help` shows a command's help.
            """,
        version: toolVersion,
        subcommands: [
            Init.self, Ingest.self, DaemonCommand.self, List.self, Show.self, Verify.self, CheckpointCommand.self,
            Key.self,
            EntryCommand.self, Proof.self, Consistency.self, TimestampCommand.self, Annotate.self, Extract.self,
            History.self, Transfer.self, Receive.self, Peer.self, Hold.self, ReleaseHold.self, CaseCommand.self,
            Dispose.self, Approve.self, Report.self, ReportSigner.self, Export.self, VerifyBundle.self,
        ]
    )

    /// `--vault` before the command (`custos --vault DIR list`); every command's own `--vault`
    /// is this same value (ArgumentParser fills a command's option group from its parent's).
    @OptionGroup var vault: VaultOptions

    static func main() async {
        // Nothing a command creates is open to other users, whatever the caller's umask: the
        // vault's files and folders get their modes explicitly, and what a library creates
        // (SQLite's ledger, its journal) is covered by this.
        umask(0o077)
        // libarchive needs a UTF-8 locale for UTF-8 member names.
        setlocale(LC_ALL, "C.UTF-8")
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            // `--help`, `--version`: the text on standard output, exit 0. A usage error:
            // ArgumentParser's message, the usage and where the help is, exit 2.
            if exitCode(for: error) == .success {
                Output.line(fullMessage(for: error))
                finish(0)
            }
            Output.error(fullMessage(for: error))
            finish(2)
        }
        bootstrapLogging(daemon: command is DaemonCommand)
        let parsed = type(of: command)
        if !parsed.configuration.subcommands.isEmpty {
            // `custos` or `custos timestamp` without the command: bad usage; the help says
            // what there is.
            Output.error(helpMessage(for: parsed))
            finish(2)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            Output.error("custos: \(error.message)")
            finish(error.exitCode)
        } catch let error as CustodyError {
            Output.error("custos: \(error)")
            finish(error.exitCode)
        } catch let error as ExitCode {
            finish(error.rawValue)
        } catch  where exitCode(for: error) == .success {
            // `custos help COMMAND` and `custos COMMAND --help` are parsed into ArgumentParser's
            // help command, whose run() throws the help request.
            Output.line(fullMessage(for: error))
            finish(0)
        } catch {
            // Domain errors name the file and the reason.
            Output.error("custos: \(error)")
            finish(2)
        }
        finish(0)
    }

    /// Log lines go to standard error (through `Output`); $CUSTOS_LOG_LEVEL (trace … critical)
    /// sets how many. The daemon logs a line per seal by default; the other commands only errors.
    private static func bootstrapLogging(daemon: Bool) {
        let level = ProcessInfo.processInfo.environment["CUSTOS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler(label: label, stream: Output.LogStream())
            handler.logLevel = level ?? (daemon ? .info : .error)
            return handler
        }
    }

    /// Ends the process. Output that could not be written is an error: it is reported (when
    /// standard error still takes it) and makes a successful status 2; a status that already
    /// says more (1, a fault found; 3, sealing stopped) is kept.
    ///
    /// The process ends with `_exit`, not `exit`: `exit` runs the libraries' teardown (OpenSSL's
    /// `OPENSSL_cleanup`, which frees every thread's OpenSSL state, and the C++ and shared
    /// libraries' destructors) while the process's other threads still run (a start-up thread
    /// ending, the daemon's request threads, a read-ahead thread), and a thread that then touches
    /// what was freed crashes the process at its end. Seen once in CI: `custos daemon` refused
    /// at start wrote its refusal, then ended by SIGSEGV instead of exit status 2. Nothing is lost
    /// by skipping the teardown: all output went through write(2), stdio was flushed just above,
    /// what a command wrote to its files is the kernel's either way, and the kernel releases the
    /// locks, descriptors and memory.
    static func finish(_ status: Int32) -> Never {
        let failures = Output.failures()
        for failure in failures { Output.error("custos: \(failure)") }
        Glibc._exit(status == 0 && !failures.isEmpty ? 2 : status)
    }
}
