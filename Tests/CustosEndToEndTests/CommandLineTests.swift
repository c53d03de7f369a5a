import CustosTestSupport
import Foundation
import Glibc
import Testing

/// What a new user meets first: the help of every command, usage errors that say where the help
/// is, `--vault` on either side of the command.
@Suite("custos --help and usage errors", .timeLimit(.minutes(2)))
struct HelpTests {
    /// Every command and subcommand; `theRootHelpListsExactlyTheseCommands` keeps it complete.
    static let commands: [[String]] = [
        [], ["init"], ["ingest"], ["daemon"], ["list"], ["show"], ["verify"], ["checkpoint"], ["key"], ["entry"],
        ["proof"], ["consistency"], ["timestamp"], ["timestamp", "export"], ["annotate"], ["extract"], ["history"],
        ["transfer"], ["receive"], ["peer"], ["peer", "add"], ["peer", "list"], ["hold"], ["release-hold"], ["case"],
        ["case", "set"], ["dispose"], ["approve"], ["report"], ["report-signer"], ["report-signer", "show"],
        ["report-signer", "import"], ["export"], ["verify-bundle"],
    ]

    @Test(arguments: commands)
    func everyCommandShowsItsHelp(command: [String]) throws {
        let usage = "USAGE: " + (["custos"] + command).joined(separator: " ")
        for form in [
            command + ["--help"], command + ["-h"], ["help"] + command,
            ["--vault", "/nonexistent"] + command + ["--help"],
        ] {
            let result = try run(custosBinary, form)
            #expect(result.status == 0, "custos \(form.joined(separator: " ")): \(result.stderr)")
            #expect(result.output.contains(usage), "custos \(form.joined(separator: " ")): \(result.output)")
            #expect(result.output.contains("OPTIONS:"))
            #expect(result.stderr.isEmpty, "custos \(form.joined(separator: " ")): \(result.stderr)")
        }
    }

    @Test func theRootHelpListsExactlyTheseCommands() throws {
        let help = try run(custosBinary, ["--help"])
        #expect(help.status == 0)
        let section = try #require(help.output.components(separatedBy: "SUBCOMMANDS:\n").last)
        // A command's name starts a line, two spaces in; wrapped abstracts are indented further.
        let listed = section.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0 != "See" }
        let tested = Self.commands.filter { $0.count == 1 }.map { $0[0] }
        #expect(listed == tested)
        // The group's own subcommands, likewise.
        let group = try run(custosBinary, ["timestamp", "--help"])
        #expect(group.output.contains("  export "))
    }

    @Test func noCommandPrintsTheHelpAsBadUsage() throws {
        for arguments in [[], ["--vault", "/nonexistent"]] {
            let result = try run(custosBinary, arguments)
            #expect(result.status == 2)
            #expect(result.stderr.contains("USAGE: custos [--vault <vault>] [--socket <socket>] <subcommand>"))
            #expect(result.stderr.contains("SUBCOMMANDS:") && result.stderr.contains("ingest"))
            #expect(!result.stderr.contains("CleanExit") && !result.stderr.contains("custos: --help"))
        }
        let group = try run(custosBinary, ["timestamp"])
        #expect(group.status == 2)
        #expect(group.stderr.contains("USAGE: custos timestamp <subcommand>"))
    }

    @Test func theVersion() throws {
        let result = try run(custosBinary, ["--version"])
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("custos "))
    }

    /// A usage error says what was wrong and where the help is, and that help works.
    @Test(arguments: [
        ["list", "--bogus"], ["bogus"], ["entry"], ["consistency", "--from", "x", "--to", "1"],
        ["timestamp", "export"],
    ])
    func aUsageErrorPointsToAHelpThatWorks(arguments: [String]) throws {
        let result = try run(custosBinary, arguments)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("Error: "), "\(result.stderr)")
        #expect(result.output.isEmpty)
        let pointer = try #require(result.stderr.firstMatch(of: /See '(custos[^']*)'/)?.1, "\(result.stderr)")
        let help = try run(custosBinary, pointer.split(separator: " ").dropFirst().map(String.init))
        #expect(help.status == 0, "\(pointer): \(help.stderr)")
        #expect(help.output.contains("USAGE: custos"))
    }

    @Test func theVaultMayBeGivenBeforeOrAfterTheCommand() throws {
        let node = try Node()
        let file = try node.directory.write("a.txt", "before or after\n")
        let sealed = try run(custosBinary, ["--vault", node.vault, "ingest", "--case", "C-1", file])
        #expect(sealed.status == 0, "\(sealed.stderr)")
        for arguments in [["--vault", node.vault, "list"], ["list", "--vault", node.vault]] {
            let listed = try run(custosBinary, arguments)
            #expect(listed.status == 0, "\(arguments): \(listed.stderr)")
            #expect(listed.output.contains("case C-1") && listed.output.contains("a.txt"))
        }
        let key = try run(custosBinary, ["--vault", node.vault, "key"])
        #expect(key.status == 0 && key.output.hasPrefix("e2e.example.tw/evidence+"))
        // A nested command too; and the environment is not needed.
        let export = try run(
            custosBinary,
            [
                "--vault", node.vault, "timestamp", "export", "a", "-o", node.directory.file("out"), "--reason",
                "a test",
            ],
            environment: ["CUSTOS_VAULT": "/nonexistent"])
        #expect(export.status == 2)  // "a" matches no item id…
        #expect(export.stderr.contains("no item matches"))  // …but the vault was found.
        let check = try run(custosBinary, ["--vault", node.vault, "daemon", "--check"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.output.contains(node.vault + "/inbox"))
    }
}

/// Output that cannot be written is an error (exit 2 and a message when standard error still
/// takes one), never a crash and never a silent success.
@Suite("custos with standard output or error on a full device", .timeLimit(.minutes(2)))
struct FullOutputTests {
    /// Runs custos with `redirection` (`>/dev/full`, `2>/dev/full`) applied by the shell, which
    /// then becomes custos (exec), so a signal death shows as 128 + the signal.
    func custos(_ arguments: [String], _ redirection: String) throws -> CommandResult {
        try run(
            "timeout", ["60", "sh", "-c", "exec \"$0\" \"$@\" \(redirection)", custosBinary] + arguments,
            environment: ["SWIFT_BACKTRACE": "enable=no"])
    }

    static let commands: [[String]] = [
        ["entry", "0"], ["checkpoint"], ["list"], ["list", "--json"], ["verify"], ["verify", "--json"], ["key"],
        ["show", "ITEM"], ["show", "--json", "ITEM"], ["proof", "ITEM"], ["consistency", "--from", "1", "--to", "2"],
        ["daemon", "--check"], ["--help"], ["help", "ingest"], ["--version"],
    ]

    @Test(arguments: commands)
    func aFullStandardOutputIsAnError(command: [String]) throws {
        let node = try Node()
        let file = try node.directory.write("a.txt", "to /dev/full\n")
        #expect(try node.custos(["ingest", file]).status == 0)
        let item = try #require(try node.items().first?["item"] as? String)
        // The vault after the command name, as every release of custos takes it.
        let named = command.map { $0 == "ITEM" ? item : $0 }
        let arguments =
            named[0].hasPrefix("-") || named[0] == "help"
            ? named : [named[0], "--vault", node.vault] + named.dropFirst()
        // The same command to a pipe works, and writes something.
        let piped = try run(custosBinary, arguments)
        #expect(piped.status == 0 && !piped.stdout.isEmpty, "\(piped.stderr)")

        let full = try custos(arguments, ">/dev/full")
        #expect(full.status == 2, "\(command): status \(full.status), \(full.stderr)")
        #expect(full.stderr.contains("custos: standard output could not be written: No space left on device"))
        #expect(!full.stderr.contains("Fatal error"))
    }

    @Test func aFullStandardErrorIsAnErrorToo() throws {
        let node = try Node()
        // The refusal cannot be said: the status still says it, and nothing crashes.
        let missing = try custos(["ingest", "--vault", node.vault, node.directory.file("missing.bin")], "2>/dev/full")
        #expect(missing.status == 2, "status \(missing.status)")
        #expect(try node.items().isEmpty)
        // A good ingest with its log line (CUSTOS_LOG_LEVEL=info) lost: sealed, and the loss is an error.
        let file = try node.directory.write("b.txt", "logged to /dev/full\n")
        let sealed = try run(
            "timeout",
            ["60", "sh", "-c", "exec \"$0\" \"$@\" 2>/dev/full", custosBinary, "ingest", "--vault", node.vault, file],
            environment: ["SWIFT_BACKTRACE": "enable=no", "CUSTOS_LOG_LEVEL": "info"])
        #expect(sealed.status == 2, "status \(sealed.status)")
        #expect(sealed.output.contains("sealed "))
        #expect(try node.items().count == 1)
        #expect(try node.verify().status == 0)
        // A usage error with nowhere to say it.
        #expect(try custos(["list", "--bogus"], "2>/dev/full").status == 2)
    }

    @Test func aFaultFoundKeepsItsStatusWhenTheReportIsLost() throws {
        let node = try Node()
        let file = try node.directory.write("c.txt", "soon damaged\n")
        #expect(try node.custos(["ingest", file]).status == 0)
        let item = try #require(try node.items().first)
        let archive = node.archivePath(item: item)
        chmod(archive, 0o644)
        try Data("not an archive".utf8).write(to: URL(fileURLWithPath: archive))
        let full = try custos(["verify", "--vault", node.vault], ">/dev/full")
        #expect(full.status == 1, "status \(full.status)")
        #expect(full.stderr.contains("standard output could not be written"))
    }
}
