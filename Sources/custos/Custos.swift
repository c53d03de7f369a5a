import ArgumentParser
import Foundation
import Glibc
import Logging

@main
struct Custos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "custos",
        abstract: "Digital evidence preservation: seal files, keep a tamper-evident ledger, prove it.",
        discussion: """
            Exit status: 0 when all is well, 1 when verification finds a fault, 2 for bad usage or a
            refused input.
            """,
        version: toolVersion,
        subcommands: [
            Init.self, Ingest.self, DaemonCommand.self, List.self, Show.self, Verify.self, CheckpointCommand.self,
            Key.self,
            EntryCommand.self, Proof.self, Consistency.self, TimestampCommand.self,
        ]
    )

    static func main() async {
        // Nothing a command creates is open to other users, whatever the caller's umask: the
        // vault's files and folders get their modes explicitly, and what a library creates
        // (SQLite's ledger, its journal) is covered by this.
        umask(0o077)
        // libarchive needs a UTF-8 locale for UTF-8 member names.
        setlocale(LC_ALL, "C.UTF-8")
        // Log lines go to standard error; $CUSTOS_LOG_LEVEL (trace … critical) sets how many.
        // The daemon logs a line per seal by default; the other commands only errors.
        let level = ProcessInfo.processInfo.environment["CUSTOS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        let isDaemon = CommandLine.arguments.dropFirst().first == "daemon"
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level ?? (isDaemon ? .info : .error)
            return handler
        }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            // Help and version exit 0; usage errors print ArgumentParser's message and exit 2.
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            Output.error(fullMessage(for: error))
            Glibc.exit(2)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            Output.error("custos: \(error.message)")
            Glibc.exit(error.exitCode)
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch {
            // Domain errors name the file and the reason.
            Output.error("custos: \(error)")
            Glibc.exit(2)
        }
    }
}
