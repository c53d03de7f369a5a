import CustosHTTP
import CustosLocalServer
import CustosTestSupport
import Foundation
import Glibc
import Testing

@Suite("the local server: where the socket is", .timeLimit(.minutes(3)))
struct SocketPlacementTests {
    @Test func aMissingFolderIsCreatedAndTheSocketGetsItsModeAndGroup() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(LocalSocketSettings(path: directory.file("run/custos.sock")))
        let folder = try #require(fileMode(directory.file("run")))
        #expect(folder.mode == 0o750)
        #expect(folder.gid == getegid())
        let socket = try #require(fileMode(server.path))
        #expect(socket.kind == UInt32(S_IFSOCK))
        #expect(socket.mode == 0o660)
        #expect(socket.gid == getegid())
        try await server.stop()
        #expect(fileMode(server.path) == nil)
    }

    @Test func aRegularFileAtThePathIsRefusedAndLeftAlone() async throws {
        let directory = TemporaryDirectory("local-server")
        let path = try directory.write("run/custos.sock", "not a socket")
        let error = try #require(try await RunningServer.refusal(LocalSocketSettings(path: path)))
        #expect(error.code == .pathOccupied)
        #expect(error.description.contains(path) && error.description.contains("a regular file"), "\(error)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "not a socket")
    }

    @Test func aSymbolicLinkAtThePathIsRefusedAndLeftAlone() async throws {
        let directory = TemporaryDirectory("local-server")
        let live = try await RunningServer.start(LocalSocketSettings(path: directory.file("real/custos.sock")))
        mkdir(directory.file("run"), 0o750)
        let path = directory.file("run/custos.sock")
        symlink(live.path, path)
        let error = try #require(try await RunningServer.refusal(LocalSocketSettings(path: path)))
        #expect(error.code == .pathOccupied)
        #expect(error.description.contains(path) && error.description.contains("a symbolic link"), "\(error)")
        #expect(fileMode(path)?.kind == UInt32(S_IFLNK))
        try await live.stop()
    }

    @Test func aFolderAtThePathIsRefusedAndLeftAlone() async throws {
        let directory = TemporaryDirectory("local-server")
        try directory.write("run/custos.sock/inside", "kept")
        let path = directory.file("run/custos.sock")
        let error = try #require(try await RunningServer.refusal(LocalSocketSettings(path: path)))
        #expect(error.code == .pathOccupied)
        #expect(error.description.contains("a folder"), "\(error)")
        #expect(try String(contentsOfFile: path + "/inside", encoding: .utf8) == "kept")
    }

    @Test func aLiveSocketIsRefusedAndKeepsServing() async throws {
        let directory = TemporaryDirectory("local-server")
        let live = try await RunningServer.start(LocalSocketSettings(path: directory.file("run/custos.sock")))
        let error = try #require(try await RunningServer.refusal(LocalSocketSettings(path: live.path)))
        #expect(error.code == .anotherServer)
        #expect(
            error.description.contains(live.path) && error.description.contains("another daemon serves"), "\(error)")
        let response = try await offPool {
            try LocalSocketClient.send(socket: live.path, method: "GET", path: "/echo", body: [], timeout: 30)
        }
        #expect(response.status == 200)
        try await live.stop()
    }

    @Test func aStaleSocketIsReplaced() async throws {
        let directory = TemporaryDirectory("local-server")
        mkdir(directory.file("run"), 0o750)
        let path = directory.file("run/custos.sock")
        try makeStaleSocket(path)
        #expect(fileMode(path)?.kind == UInt32(S_IFSOCK))
        let server = try await RunningServer.start(LocalSocketSettings(path: path))
        let response = try await offPool {
            try LocalSocketClient.send(socket: path, method: "GET", path: "/echo", body: [], timeout: 30)
        }
        #expect(response.status == 200)
        try await server.stop()
    }

    /// The socket is bound under a name of its own (`.custos.sock.<random>.new`) and moved to
    /// its path once it listens: nothing but the socket stays in the folder, and nothing at all
    /// after the server stops.
    @Test func theSocketIsAllItsSetUpLeaves() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(LocalSocketSettings(path: directory.file("run/custos.sock")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("run")) == ["custos.sock"])
        let response = try await offPool {
            try LocalSocketClient.send(socket: server.path, method: "GET", path: "/echo", body: [], timeout: 30)
        }
        #expect(response.status == 200)
        try await server.stop()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("run")).isEmpty)
    }

    @Test(
        .enabled(if: geteuid() == 0, "gives the folder to another account (chown)"),
        arguments: [(0o777 as mode_t, "others"), (0o770, "its group")])
    func anotherAccountsFolderWritableByOthersIsRefused(mode: mode_t, by: String) async throws {
        let directory = TemporaryDirectory("local-server")
        mkdir(directory.file("run"), mode)
        chmod(directory.file("run"), mode)
        chown(directory.file("run"), 65534, 65534)
        let path = directory.file("run/custos.sock")
        let error = try #require(try await RunningServer.refusal(LocalSocketSettings(path: path)))
        #expect(error.code == .unsafeFolder)
        #expect(error.description.contains(directory.file("run")) && error.description.contains("writable by \(by)"))
        #expect(fileMode(path) == nil)
    }

    @Test func ourOwnFolderIsGivenTheSocketsModeWhateverItHad() async throws {
        let directory = TemporaryDirectory("local-server")
        mkdir(directory.file("run"), 0o777)
        chmod(directory.file("run"), 0o777)
        let server = try await RunningServer.start(LocalSocketSettings(path: directory.file("run/custos.sock")))
        #expect(fileMode(directory.file("run"))?.mode == 0o750)
        try await server.stop()
        let alone = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock"), mode: 0o600))
        #expect(fileMode(directory.file("run"))?.mode == 0o700)
        try await alone.stop()
    }

    @Test func aFolderThatIsASymbolicLinkIsRefused() async throws {
        let directory = TemporaryDirectory("local-server")
        mkdir(directory.file("elsewhere"), 0o750)
        symlink(directory.file("elsewhere"), directory.file("run"))
        let error = try #require(
            try await RunningServer.refusal(LocalSocketSettings(path: directory.file("run/custos.sock"))))
        #expect(error.code == .unsafeFolder)
        #expect(error.description.contains("symbolic link"), "\(error)")
        #expect(fileMode(directory.file("elsewhere/custos.sock")) == nil)
    }

    @Test func anUnknownGroupIsRefused() async throws {
        let directory = TemporaryDirectory("local-server")
        let error = try #require(
            try await RunningServer.refusal(
                LocalSocketSettings(path: directory.file("run/custos.sock"), group: "no-such-group-custos")))
        #expect(error.code == .unknownGroup)
    }
}

@Suite("the local socket client: what it refuses", .timeLimit(.minutes(3)))
struct LocalSocketClientTests {
    private func refusal(_ path: String) async throws -> HTTPError {
        try await offPool { () throws -> HTTPError in
            do {
                _ = try LocalSocketClient.send(socket: path, method: "GET", path: "/echo", body: [], timeout: 30)
            } catch let error as HTTPError {
                return error
            }
            throw CocoaError(.featureUnsupported)
        }
    }

    @Test func aMissingSocketSaysNoDaemonListens() async throws {
        let directory = TemporaryDirectory("local-client")
        let path = directory.file("custos.sock")
        let error = try await refusal(path)
        #expect(error.code == .noServer)
        #expect(
            error.description
                == "no daemon is listening at \(path): the socket does not exist; start it with `custos daemon`")
    }

    @Test func aStaleSocketSaysNoDaemonAnswers() async throws {
        let directory = TemporaryDirectory("local-client")
        let path = directory.file("custos.sock")
        try makeStaleSocket(path)
        let error = try await refusal(path)
        #expect(error.code == .noServer)
        #expect(error.description == "a socket is at \(path) but no daemon answers (stale: the daemon is not running)")
    }

    @Test func aSymbolicLinkIsRefusedEvenToALiveSocket() async throws {
        let directory = TemporaryDirectory("local-client")
        let server = try await RunningServer.start(LocalSocketSettings(path: directory.file("run/custos.sock")))
        let path = directory.file("link.sock")
        symlink(server.path, path)
        let error = try await refusal(path)
        #expect(error.code == .notASocket)
        #expect(error.description.hasPrefix("\(path) is a symbolic link, not a socket"), "\(error)")
        #expect(server.seen.all.isEmpty)
        try await server.stop()
    }

    @Test func aRegularFileIsRefused() async throws {
        let directory = TemporaryDirectory("local-client")
        let path = try directory.write("custos.sock", "x")
        let error = try await refusal(path)
        #expect(error.code == .notASocket)
        #expect(error.description.hasPrefix("\(path) is a regular file, not a socket"), "\(error)")
    }

    @Test func aFolderIsRefused() async throws {
        let directory = TemporaryDirectory("local-client")
        let error = try await refusal(directory.path)
        #expect(error.code == .notASocket)
        #expect(error.description.hasPrefix("\(directory.path) is a folder, not a socket"), "\(error)")
    }
}

@Suite("the local socket client: as another account", .timeLimit(.minutes(3)))
struct LocalSocketClientAccountTests {
    @Test(.enabled(if: isRoot, "becoming another account needs root"))
    func aGroupOnlySocketOrFolderIsRefusedWithPermissionDenied() async throws {
        let directory = TemporaryDirectory("local-client")
        chmod(directory.path, 0o711)
        mkdir(directory.file("open"), 0o755)
        chmod(directory.file("open"), 0o755)
        let socketOnly = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("open/custos.sock"), group: "root"))
        let folderToo = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("closed/custos.sock"), group: "root"))
        // A child process (the test binary itself) becomes nobody and runs the client.
        let paths = socketOnly.path + "\n" + folderToo.path
        await #expect(processExitsWith: .success) { [paths = paths as String] in
            let parts = paths.split(separator: "\n").map(String.init)
            var noGroups: [gid_t] = []
            guard setgroups(0, &noGroups) == 0, setgid(65534) == 0, setuid(65534) == 0
            else { exit(2) }
            for path in parts {
                do {
                    _ = try LocalSocketClient.send(socket: path, method: "GET", path: "/echo", body: [], timeout: 30)
                    exit(3)
                } catch let error as HTTPError {
                    guard error.code == .permissionDenied, error.description.hasPrefix("permission denied on \(path): ")
                    else { exit(4) }
                } catch {
                    exit(5)
                }
            }
            exit(0)
        }
        try await socketOnly.stop()
        try await folderToo.stop()
    }

    @Test(.enabled(if: isRoot, "a server of another account needs root"), .enabled(if: systemPython != nil))
    func aServerThatIsNeitherTheSocketsOwnerNorRootIsRefused() async throws {
        let directory = TemporaryDirectory("local-client")
        chmod(directory.path, 0o711)
        mkdir(directory.file("run"), 0o777)
        chmod(directory.file("run"), 0o777)
        let path = directory.file("run/custos.sock")
        // nobody serves a socket whose file then belongs to uid 1234.
        let script =
            "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n"
            + "while True:\n c,_=s.accept()\n c.close()\n"
        let server = try BackgroundProcess(
            "setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", systemPython!, "-c", script, path],
            logPath: directory.file("server.log"))
        defer {
            server.signal(SIGKILL)
            _ = server.wait(timeout: 5)
        }
        #expect(try await offPool { waitUntil(timeout: 10) { connects(path) } })
        chown(path, 1234, 1234)
        let error = try await offPool { () throws -> HTTPError? in
            do {
                _ = try LocalSocketClient.send(socket: path, method: "GET", path: "/", body: [], timeout: 30)
                return nil
            } catch let error as HTTPError {
                return error
            }
        }
        #expect(error?.code == .wrongServer)
        #expect(
            error?.description
                == "the process serving \(path) runs as uid 65534, but the socket belongs to uid 1234: "
                + "someone else's socket is in place; refused")
    }
}
