import CLinux
import CustosFormats
import Glibc

/// What the system says about this process and the machine it runs on, and the few settings a
/// process makes of itself (memory, priority): the services ask here, never the C library.
public enum ThisProcess {
    /// This process's id.
    public static var identifier: Int32 { getpid() }

    /// When this process started, in clock ticks since the machine booted (field 22 of
    /// /proc/self/stat); 0 when /proc cannot be read. A pid is reused (soon, in a container with
    /// few processes); a pid with its start time names one process for ever.
    public static let startTime: UInt64 = startTime(of: getpid()) ?? 0

    /// What names this process in the names of its temporaries: `<pid>.<start time>`, so that a
    /// temporary's writer is told dead even when its pid has been given to another process.
    public static var temporaryTag: String { "\(getpid()).\(startTime)" }

    /// The start time of process `pid` (field 22 of /proc/<pid>/stat), or nil when there is no
    /// such process or /proc will not say.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard pid > 0, let bytes = try? FileSystem.readFile(RawPath("/proc/\(pid)/stat")) else {
            return nil
        }
        // The command name (field 2) is in parentheses and may hold spaces and ')': count the
        // fields after its last ')'. Field 3 is the first after it, so field 22 is the 20th.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 20 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// The effective user id: the account whose rights this process has.
    public static var effectiveUserID: UInt32 { geteuid() }

    /// The machine's host name (empty when the system will not say).
    public static var hostName: String {
        var host = [CChar](repeating: 0, count: 256)
        guard gethostname(&host, host.count) == 0 else { return "" }
        return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The name of the account `uid` in the system's user database, or nil when it has none.
    /// Safe from any thread (getpwuid_r).
    public static func accountName(userID uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            let code = getpwuid_r(uid, &entry, &buffer, buffer.count, &result)
            if code == ERANGE, buffer.count < 1 << 20 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            guard code == 0, result != nil, let name = entry.pw_name else { return nil }
            return String(cString: name)
        }
    }

    /// The name of the group `gid` in the system's group database, or nil when it has none.
    /// Safe from any thread (getgrgid_r).
    public static func groupName(groupID gid: UInt32) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            let code = getgrgid_r(gid, &entry, &buffer, buffer.count, &result)
            if code == ERANGE, buffer.count < 1 << 22 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            guard code == 0, result != nil, let name = entry.gr_name else { return nil }
            return String(cString: name)
        }
    }

    /// The id of the group named `name`, or nil when the system has none of that name.
    public static func groupID(named name: String) -> UInt32? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            let code = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
            if code == ERANGE, buffer.count < 1 << 22 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            guard code == 0, result != nil else { return nil }
            return entry.gr_gid
        }
    }

    /// The effective group id and the supplementary groups of this process.
    public static var groupIDs: [UInt32] {
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        let read = count > 0 ? getgroups(count, &groups) : 0
        var all = [getegid()]
        for gid in groups.prefix(Int(max(read, 0))) where !all.contains(gid) { all.append(gid) }
        return all
    }

    /// The current working directory, or nil when it cannot be read (removed, too long).
    public static var workingDirectory: RawPath? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return RawPath(bytes: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
    }

    /// The signals that ask a process to stop: SIGTERM (a service manager) and SIGINT (Ctrl-C).
    public static let stopSignals: [Int32] = [SIGTERM, SIGINT]

    /// Keeps `signal` from ending the process by its default action, so that it is seen only
    /// where it is caught (a dispatch source).
    public static func ignoreDefaultAction(ofSignal signal: Int32) {
        _ = Glibc.signal(signal, SIG_IGN)
    }

    /// Allows at most `count` malloc arenas for the process's threads (glibc otherwise gives
    /// each thread one of its own, and keeps the pages each has freed).
    public static func limitMallocArenas(to count: Int) {
        custos_limit_malloc_arenas(Int32(count))
    }

    /// Hands the pages glibc keeps free in its arenas back to the kernel.
    public static func releaseFreeMemory() {
        custos_release_free_memory()
    }

    /// Lowers the calling thread's CPU priority to nice `value` (Linux nices each thread on its
    /// own). Returns false when the system refused.
    @discardableResult
    public static func lowerThisThreadPriority(toNice value: Int) -> Bool {
        custos_nice_this_thread(Int32(value)) == 0
    }
}

extension RawPath {
    /// The absolute form of the path, without resolving links (the name as the handler gave it,
    /// after this process's working directory).
    public var absolute: RawPath {
        if bytes.first == UInt8(ascii: "/") { return self }
        guard let cwd = ThisProcess.workingDirectory?.bytes else { return self }
        var bytes = self.bytes
        while bytes.starts(with: Array("./".utf8)) { bytes.removeFirst(2) }
        return RawPath(bytes: cwd + [UInt8(ascii: "/")] + bytes)
    }
}
