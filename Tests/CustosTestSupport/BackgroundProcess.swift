import Foundation
import Glibc

/// A program running in the background (the daemon under test): its standard error goes to a
/// file the test reads while it runs; signals and exit status are the test's to check.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logPath: String
    private var exitStatus: Int32?

    /// Starts `program` with `arguments`; stdout and stderr go to `logPath`.
    public init(_ program: String, _ arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        self.logPath = logPath
        var argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { for pointer in argv { free(pointer) } }
        let envp = spawnEnvironment(environment)
        defer { for pointer in envp { free(pointer) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, program, &actions, nil, argv, envp)
        guard result == 0 else {
            throw NSError(
                domain: "spawn", code: Int(result), userInfo: [NSLocalizedDescriptionKey: "cannot run \(program)"])
        }
        self.pid = pid
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// What the process has written so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// Waits up to `timeout` seconds for the process to end; its exit status (128 + signal when
    /// killed), or nil if it is still running.
    @discardableResult
    public func wait(timeout: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date(timeIntervalSinceNow: timeout)
        repeat {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                exitStatus = code
                return code
            }
            usleep(10_000)
        } while Date() < deadline
        return nil
    }

    public var isRunning: Bool { wait(timeout: 0) == nil }

    /// The process's peak resident memory in KiB (VmHWM), while it runs.
    public var peakMemoryKiB: Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    }
}
