import Foundation

/// The result of running a command to its end.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: String

    public var output: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a program with arguments given as raw bytes (so names that are not UTF-8 reach it
/// byte-exact), waits for it, and collects its output.
@discardableResult
public func run(
    _ program: String, _ arguments: [[UInt8]], environment: [String: String] = [:], directory: String? = nil,
    stdin: [UInt8]? = nil
) throws -> CommandResult {
    // A working directory through coreutils' env -C (posix_spawn has no portable chdir action).
    if let directory {
        return try run(
            "env", [Array("-C".utf8), Array(directory.utf8), Array(program.utf8)] + arguments,
            environment: environment, stdin: stdin)
    }
    // posix_spawn with raw argv: Foundation's Process only takes Strings.
    var argv: [UnsafeMutablePointer<CChar>?] = ([Array(program.utf8)] + arguments).map { bytes in
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        pointer[bytes.count] = 0
        return pointer
    }
    argv.append(nil)
    defer { for pointer in argv { pointer?.deallocate() } }

    let envp = spawnEnvironment(environment)
    defer { for pointer in envp { free(pointer) } }

    let outPipe = Pipe()
    let errPipe = Pipe()
    let inPipe = Pipe()
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inPipe.fileHandleForReading.fileDescriptor, 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe.fileHandleForWriting.fileDescriptor, 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe.fileHandleForWriting.fileDescriptor, 2)
    // The child keeps only 0, 1 and 2: an inherited write end of its own stdin would keep it
    // from ever seeing the end of its input.
    for handle in [
        inPipe.fileHandleForReading, inPipe.fileHandleForWriting, outPipe.fileHandleForReading,
        outPipe.fileHandleForWriting, errPipe.fileHandleForReading, errPipe.fileHandleForWriting,
    ] {
        posix_spawn_file_actions_addclose(&actions, handle.fileDescriptor)
    }

    var pid: pid_t = 0
    let result = posix_spawnp(&pid, program, &actions, nil, argv, envp)
    guard result == 0 else {
        throw NSError(
            domain: "spawn", code: Int(result), userInfo: [NSLocalizedDescriptionKey: "cannot run \(program)"])
    }
    try inPipe.fileHandleForReading.close()
    try outPipe.fileHandleForWriting.close()
    try errPipe.fileHandleForWriting.close()
    if let stdin { inPipe.fileHandleForWriting.write(Data(stdin)) }
    try inPipe.fileHandleForWriting.close()

    // Read both pipes to their ends, one on another thread, so neither can fill and block.
    let errorData = ErrorCollector(errPipe.fileHandleForReading)
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    let err = errorData.wait()
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return CommandResult(status: exitStatus, stdout: Array(out), stderr: String(decoding: err, as: UTF8.self))
}

/// Runs a program with String arguments.
@discardableResult
public func run(
    _ program: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
    stdin: [UInt8]? = nil
) throws -> CommandResult {
    try run(program, arguments.map { Array($0.utf8) }, environment: environment, directory: directory, stdin: stdin)
}

private final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

/// True when `name` is a program on PATH.
public func haveProgram(_ name: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }
}

/// This process's environment with `overrides`, as the NULL-terminated array posix_spawn takes;
/// the caller frees each pointer.
func spawnEnvironment(_ overrides: [String: String]) -> [UnsafeMutablePointer<CChar>?] {
    var env = ProcessInfo.processInfo.environment
    for (key, value) in overrides { env[key] = value }
    return env.map { strdup("\($0.key)=\($0.value)") } + [nil]
}

/// The system's Python (a shim under /root is not reachable by another account).
public let systemPython = ["/usr/bin/python3", "/usr/local/bin/python3"].first { (path: String) in
    access(path, X_OK) == 0
}
