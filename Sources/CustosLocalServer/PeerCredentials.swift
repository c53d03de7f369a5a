import Glibc

/// Who is at the other end of a connection, as the kernel recorded it when the peer connected
/// (`SO_PEERCRED` and `SO_PEERGROUPS`); never anything the request says.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// The supplementary groups (`SO_PEERGROUPS`), in the kernel's order.
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32]) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }
}

extension PeerCredentials {
    /// SO_PEERGROUPS from <asm-generic/socket.h> (Linux 4.13+), which Glibc's module does not show.
    static let peerGroupsOption: Int32 = 59
    /// NGROUPS_MAX on Linux is 65536, but an account in more than 1024 groups is refused rather
    /// than read in part.
    static let maximumGroups = 1024

    /// Reads the peer of a connected Unix socket. Throws when the kernel does not say: the
    /// caller is then refused, never served under a guessed identity.
    static func read(socket fd: Int32) throws(LocalServerError) -> PeerCredentials {
        // struct ucred: pid_t pid; uid_t uid; gid_t gid (12 bytes; Glibc shows it only under _GNU_SOURCE).
        var ucred: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(12)
        guard MemoryLayout.size(ofValue: ucred) == 12, getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ucred, &length) == 0,
            length == 12
        else {
            throw .credentials("SO_PEERCRED", errno: errno)
        }
        var groups = [UInt32](repeating: 0, count: maximumGroups)
        var groupsLength = socklen_t(maximumGroups * MemoryLayout<UInt32>.size)
        let status = groups.withUnsafeMutableBytes {
            getsockopt(fd, SOL_SOCKET, peerGroupsOption, $0.baseAddress, &groupsLength)
        }
        guard status == 0, Int(groupsLength) % MemoryLayout<UInt32>.size == 0 else {
            throw .credentials("SO_PEERGROUPS", errno: errno)
        }
        groups.removeSubrange((Int(groupsLength) / MemoryLayout<UInt32>.size)...)
        return PeerCredentials(pid: ucred.0, uid: ucred.1, gid: ucred.2, groups: groups)
    }
}
